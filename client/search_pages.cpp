#include "client/search_pages.h"

#include <stdexcept>

#include "common/subprocess.h"
#include "ern/v1/models.grpc.pb.h"
#include "model/tool_paths.h"

namespace ern::cli {

std::string registered_report(const ServerConnection& server, const std::string& model_id) {
  v1::GetModelRequest request;
  request.set_id(model_id);
  v1::Model model;
  check_rpc(
      v1::ModelService::NewStub(server.channel)->GetModel(server.context().get(), request, &model),
      "GetModel", server);
  return model.report_json();
}

void draw_search_page(const std::string& kind, const std::filesystem::path& json,
                      const std::filesystem::path& page) {
  const auto drawn =
      run_subprocess({python_interpreter(), helper_script("search_report.py").string(), kind,
                      json.string(), "-o", page.string()});
  if (drawn.exit_code != 0) throw std::runtime_error(kind + ": " + drawn.output);
}

}  // namespace ern::cli
