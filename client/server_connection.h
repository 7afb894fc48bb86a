#pragma once
// What every online ernctl command shares: the channel to --server (default localhost:50051) with
// the caller's token (--token or ERN_TOKEN), a
// failed status as one line naming the server and the status code, and jobs and models as JSON.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <set>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "client/arguments.h"
#include "ern/v1/models.pb.h"
#include "ern/v1/search.pb.h"

namespace ern::cli {

constexpr char kDefaultServer[] = "localhost:50051";  // without --server and $ERN_SERVER

struct ServerConnection {
  std::string address;
  std::string token;                       // bearer token: --token, else $ERN_TOKEN
  std::shared_ptr<grpc::Channel> channel;  // every call carries the token

  // A call's context with a deadline (seconds); 0 means none (streams that run for the job).
  std::unique_ptr<grpc::ClientContext> context(int seconds = 30) const;
};

// The flags every online command takes besides its own: --server, --token, and TLS: --ca (the
// roots the server's certificate must chain to; $ERN_CA), --cert and --key (a client certificate).
std::set<std::string> with_connection_flags(std::set<std::string> flags);

ServerConnection connect_to_server(const Arguments& args);
// The token and the transport (TLS or plaintext) of those flags, for commands that dial a device
// farm instead.
std::string token_from(const Arguments& args);
std::shared_ptr<grpc::ChannelCredentials> credentials_from(const Arguments& args);

// A failed call: "METHOD on SERVER: CODE: message", with the status code for ernctl's exit code.
struct RpcFailure : std::runtime_error {
  RpcFailure(grpc::StatusCode code, const std::string& message)
      : std::runtime_error(message), code(code) {}
  grpc::StatusCode code;
};

// Throws RpcFailure for a failed call.
void check_rpc(const grpc::Status& status, const char* method, const ServerConnection& server);

nlohmann::json job_json(const v1::Job& job);
nlohmann::json model_json(const v1::Model& model);
// "QUEUED" → v1::QUEUED; throws UsageError naming `flag` for an unknown state.
v1::JobState parse_job_state(const std::string& name, const std::string& flag);

}  // namespace ern::cli
