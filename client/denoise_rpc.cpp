#include "client/denoise_rpc.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "client/server_connection.h"
#include "common/atomic_file.h"
#include "ern/v1/denoise.grpc.pb.h"

namespace ern::cli {

int denoise_on_server(const Arguments& args) {
  const std::string input = args.positional(0, "INPUT");
  const std::string output = args.required("o");
  std::ifstream in(input, std::ios::binary);
  if (!in) throw UsageError(input + ": cannot read");
  std::stringstream bytes;
  bytes << in.rdbuf();

  const auto server = connect_to_server(args);
  v1::DenoiseRequest request;
  request.set_image(bytes.str());
  request.set_model(args.value_or("model", ""));
  request.set_output_format(args.value_or("format", ""));
  v1::DenoiseResponse response;
  check_rpc(v1::DenoiseService::NewStub(server.channel)
                ->Denoise(call_context(600).get(), request, &response),
            "Denoise", server);
  write_file_atomically(output, response.image());
  std::printf("wrote %s (%s, model %s; inference %.1f ms, queue %.1f ms, total %.1f ms)\n",
              output.c_str(), response.output_format().c_str(), response.model().c_str(),
              response.timings().inference_ms(), response.timings().queue_ms(),
              response.timings().total_ms());
  return 0;
}

}  // namespace ern::cli
