#include "client/server_connection.h"

#include <chrono>
#include <cstdlib>

#include "common/auth/token_channel.h"
#include "common/grpc_server.h"
#include "common/status_names.h"
#include "common/tls/transport_security.h"

namespace ern::cli {
std::set<std::string> with_connection_flags(std::set<std::string> flags) {
  flags.insert({"server", "token", "ca", "cert", "key"});
  return flags;
}

std::string token_from(const Arguments& args) {
  const char* environment_token = std::getenv("ERN_TOKEN");
  return args.value_or("token", environment_token ? environment_token : "");
}

std::shared_ptr<grpc::ChannelCredentials> credentials_from(const Arguments& args) {
  const char* environment_ca = std::getenv("ERN_CA");
  const tls::ClientTls tls{args.value_or("ca", environment_ca ? environment_ca : ""),
                           args.value_or("cert", ""), args.value_or("key", "")};
  try {
    return tls::channel_credentials(tls);
  } catch (const std::invalid_argument& error) {  // a missing or half-given file
    throw UsageError(error.what());
  }
}

ServerConnection connect_to_server(const Arguments& args) {
  ServerConnection server;
  const char* environment_server = std::getenv("ERN_SERVER");
  server.address =
      args.value_or("server", environment_server ? environment_server : kDefaultServer);
  server.token = token_from(args);
  grpc::ChannelArguments channel_args;
  channel_args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  channel_args.SetMaxSendMessageSize(kMaxMessageBytes);
  server.channel =
      auth::channel_with_token(server.address, credentials_from(args), channel_args, server.token);
  return server;
}

void check_rpc(const grpc::Status& status, const char* method, const ServerConnection& server) {
  if (status.ok()) return;
  std::string message = status.error_message();
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    message = "cannot reach the coordinator (" + message + ")";
  }
  throw RpcFailure(status.error_code(), std::string(method) + " on " + server.address + ": " +
                                            status_code_name(status.error_code()) + ": " + message);
}

std::unique_ptr<grpc::ClientContext> ServerConnection::context(int seconds) const {
  auto context = std::make_unique<grpc::ClientContext>();
  if (seconds > 0) {
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  }
  return context;
}

nlohmann::json job_json(const v1::Job& job) {
  nlohmann::json json = {
      {"id", job.id()},
      {"name", job.name()},
      {"team", job.team()},
      {"priority", job.priority()},
      {"device", job.device()},
      {"state", v1::JobState_Name(job.state())},
      {"stage", job.stage()},
      {"step", job.step()},
      {"total_steps", job.total_steps()},
      {"attempts", job.attempts()},
      {"max_attempts", job.max_attempts()},
      {"checkpoint_step", job.checkpoint_step()},
      {"resumed_from_step", job.resumed_from_step()},
      {"worker", job.worker()},
      {"loss", job.loss()},
      {"expected_latency_ms", job.expected_latency_ms()},
      {"normalized_entropy", job.normalized_entropy()},
      {"created_unix_ms", job.created_unix_ms()},
      {"started_unix_ms", job.started_unix_ms()},
      {"finished_unix_ms", job.finished_unix_ms()},
  };
  if (job.eta_seconds() >= 0) json["eta_seconds"] = job.eta_seconds();
  if (!job.model().empty()) json["model"] = job.model();
  if (!job.failure_reason().empty()) json["failure_reason"] = job.failure_reason();
  if (!job.waiting_for().empty()) json["waiting_for"] = job.waiting_for();
  if (!job.sweep().empty()) json["sweep"] = job.sweep();
  if (job.workers() > 1) {
    // The gang of the current (or last) attempt, rank 0 first.
    json["world_size"] = job.world_size();
    nlohmann::json gang = nlohmann::json::array();
    if (!job.worker().empty()) gang.push_back(job.worker());
    for (const auto& member : job.gang_workers()) gang.push_back(member);
    json["workers"] = gang;
  }
  if (job.not_before_unix_ms() > 0) json["not_before_unix_ms"] = job.not_before_unix_ms();
  return json;
}

nlohmann::json model_json(const v1::Model& model) {
  nlohmann::json json = {
      {"id", model.id()},
      {"name", model.name()},
      {"source", model.source()},
      {"team", model.team()},
      {"params", model.params()},
      {"is_default", model.is_default()},
      {"sha256", model.sha256()},
      {"created_unix_ms", model.created_unix_ms()},
      {"architecture", nlohmann::json::parse(model.architecture_json())},
  };
  if (!model.job_id().empty()) {
    json["lineage"] = {{"job", model.job_id()}, {"spec_yaml", model.spec_yaml()}};
  }
  if (model.has_lineage()) {
    const auto& lineage = model.lineage();
    json["lineage"]["data_sha256"] = lineage.data_sha256();
    json["lineage"]["latency_table"] = {{"device", lineage.latency_device()},
                                        {"sha256", lineage.latency_table_sha256()},
                                        {"rows", lineage.latency_table_rows()}};
  }
  if (model.has_quality()) {
    const auto& quality = model.quality();
    json["quality"] = {{"psnr", quality.psnr()},
                       {"ssim", quality.ssim()},
                       {"sigma", quality.sigma()},
                       {"images", quality.images()},
                       {"image_set_sha256", quality.image_set_sha256()},
                       {"scored_unix_ms", quality.scored_unix_ms()}};
  }
  if (!model.promotion().empty()) json["promotion"] = model.promotion();
  if (!model.report_json().empty()) json["report"] = nlohmann::json::parse(model.report_json());
  return json;
}

v1::JobState parse_job_state(const std::string& name, const std::string& flag) {
  v1::JobState state;
  if (!v1::JobState_Parse(name, &state) || state == v1::JOB_STATE_UNSPECIFIED) {
    throw UsageError("--" + flag + ": unknown state '" + name +
                     "' (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED)");
  }
  return state;
}

}  // namespace ern::cli
