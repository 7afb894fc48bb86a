#include "server/worker_service.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <set>

#include "common/rpc_error.h"
#include "common/sha256.h"
#include "model/search_spec.h"
#include "server/file_chunks.h"
#include "server/identifier.h"
#include "server/model_service.h"
#include "server/search_metrics.h"
#include "server/upload_stream.h"

namespace ern::server {
namespace {

// "ipv4:10.0.0.7:41234" → "10.0.0.7", "ipv6:[fd00::7]:41234" → "fd00::7"; a call that did not
// come over TCP (an embedded worker's in-process channel) is on this machine.
std::string peer_host(const std::string& peer) {
  for (const std::string scheme : {"ipv4:", "ipv6:"}) {
    if (peer.rfind(scheme, 0) != 0) continue;
    std::string host = peer.substr(scheme.size(), peer.rfind(':') - scheme.size());
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    return host;
  }
  return "127.0.0.1";
}

void require_worker_id(const std::string& id) {
  if (id.empty()) throw std::invalid_argument("worker_id: must be the id RegisterWorker returned");
}

// The stage is a metric label: only the pipeline's own stages are accepted, so a client cannot
// grow the number of series.
void require_known_stage(const std::string& stage) {
  static const std::set<std::string> kStages = {"WARMUP",   "SEARCH",   "DERIVE",
                                                "FINETUNE", "EVALUATE", "EXPORT"};
  if (kStages.count(stage) == 0) {
    throw std::invalid_argument(
        "stage: must be one of WARMUP, SEARCH, DERIVE, FINETUNE, EVALUATE, EXPORT");
  }
}

void require_finite(const char* field, double value) {
  if (!std::isfinite(value)) throw std::invalid_argument(std::string(field) + ": must be finite");
}

// Artifacts are named by their content hash; nothing else may reach a path.
void require_sha256(const char* field, const std::string& value) {
  if (!is_sha256_hex(value)) {
    throw std::invalid_argument(std::string(field) + ": must be a SHA-256 (64 hex digits)");
  }
}

}  // namespace

using auth::Action;

WorkerServiceImpl::WorkerServiceImpl(JobStore& store, ArtifactStore& artifacts, LeaseTiming timing,
                                     QualityGate& gate, CallAuthority& authority,
                                     const QuotaConfig& quotas)
    : store_(store),
      artifacts_(artifacts),
      timing_(timing),
      gate_(gate),
      authority_(authority),
      quotas_(quotas),
      port_salt_(std::random_device()()) {}

ArtifactRoom WorkerServiceImpl::job_room(const std::string& job_id) {
  return artifact_room(store_, artifacts_, quotas_, store_.job(job_id).team());
}

void WorkerServiceImpl::require_holder(const auth::Identity& caller, const v1::Lease& lease) {
  if (lease.job_id().empty()) throw std::invalid_argument("lease.job_id: must name the leased job");
  store_.require_holder(lease, caller.token_id);
  store_.require_current(lease);
}

grpc::Status WorkerServiceImpl::RegisterWorker(grpc::ServerContext* context,
                                               const v1::RegisterWorkerRequest* request,
                                               v1::RegisterWorkerResponse* response) {
  return authority_.write(
      "RegisterWorker", context, Action::kWorkerService,
      [&](const auth::Identity& caller, std::string& target) {
        require_identifier("name", request->name());
        if (request->device().empty()) throw std::invalid_argument("device: must be cpu or cuda:N");
        response->set_worker_id(store_.register_worker(*request, caller.token_id));
        target = response->worker_id();
        response->set_heartbeat_interval_ms(timing_.heartbeat_interval_ms);
        response->set_lease_duration_ms(timing_.lease_duration_ms);
        spdlog::info("worker {} registered ({}, {} MiB)", response->worker_id(), request->device(),
                     request->memory_bytes() >> 20);
      });
}

grpc::Status WorkerServiceImpl::Heartbeat(grpc::ServerContext* context,
                                          const v1::HeartbeatRequest* request,
                                          v1::HeartbeatResponse* response) {
  return authority_.read(
      "Heartbeat", context, Action::kWorkerService, [&](const auth::Identity& caller) {
        require_worker_id(request->worker_id());
        *response->mutable_lease() = store_.heartbeat(
            request->worker_id(), caller.token_id,
            request->has_lease() ? &request->lease() : nullptr, timing_.lease_duration_ms);
        search_metrics().heartbeats.inc();
      });
}

grpc::Status WorkerServiceImpl::AcquireTask(grpc::ServerContext* context,
                                            const v1::AcquireTaskRequest* request,
                                            v1::AcquireTaskResponse* response) {
  // Polled every few seconds by idle workers: only the leases it grants go to the audit log.
  return authority_.read(
      "AcquireTask", context, Action::kWorkerService, [&](const auth::Identity& caller) {
        require_worker_id(request->worker_id());
        // A gang meets at its rank 0: this caller, at the address its call came from.
        GangPlacement placement;
        placement.host = peer_host(context->peer());
        placement.port_salt = port_salt_;
        // Three missed heartbeats and a worker is not seated in a new gang.
        placement.member_heard_within_ms =
            std::min(timing_.lease_duration_ms, 3 * timing_.heartbeat_interval_ms);
        const auto assignment = store_.acquire(request->worker_id(), caller.token_id,
                                               timing_.lease_duration_ms, placement);
        if (!assignment) return;
        authority_.record(caller, "AcquireTask",
                          assignment->job.id() + " to " + request->worker_id(), grpc::Status::OK);
        search_metrics().leases_granted.inc();
        const auto& job = assignment->job;
        response->set_assigned(true);
        response->mutable_lease()->set_job_id(job.id());
        response->mutable_lease()->set_fencing_token(assignment->fencing_token);
        response->set_spec_yaml(job.spec_yaml());
        response->set_attempt(job.attempts());
        response->set_checkpoint_step(assignment->checkpoint_sha.empty() ? 0
                                                                         : job.checkpoint_step());
        response->set_lease_expires_unix_ms(assignment->lease_expires_ms);
        response->set_rank(assignment->rank);
        response->set_world_size(std::max(1, job.world_size()));
        response->set_rendezvous(job.rendezvous());
        spdlog::info("job {} attempt {} leased to {} (from step {}, rank {} of {})", job.id(),
                     job.attempts(), request->worker_id(), response->checkpoint_step(),
                     assignment->rank, response->world_size());
      });
}

grpc::Status WorkerServiceImpl::ReportProgress(grpc::ServerContext* context,
                                               const v1::ReportProgressRequest* request,
                                               v1::LeaseStatus* response) {
  return authority_.read(
      "ReportProgress", context, Action::kWorkerService, [&](const auth::Identity& caller) {
        store_.require_holder(request->lease(), caller.token_id);
        require_known_stage(request->stage());
        require_finite("loss", request->loss());
        require_finite("expected_latency_ms", request->expected_latency_ms());
        require_finite("normalized_entropy", request->normalized_entropy());
        if (request->step() < 0 || request->total_steps() < 0) {
          throw std::invalid_argument("step: step and total_steps must be >= 0");
        }
        // Shown to users and logged: a closed set, never a free-form string.
        if (!request->waiting_for().empty() && request->waiting_for() != "device farm") {
          throw std::invalid_argument("waiting_for: must be empty or 'device farm'");
        }
        *response = store_.report_progress(
            request->lease(), {request->stage(), request->step(), request->total_steps(),
                               request->loss(), request->expected_latency_ms(),
                               request->normalized_entropy(), request->waiting_for()});
      });
}

grpc::Status WorkerServiceImpl::UploadCheckpoint(grpc::ServerContext* context,
                                                 grpc::ServerReader<v1::UploadRequest>* reader,
                                                 v1::UploadResponse* response) {
  return authority_.write(
      "UploadCheckpoint", context, Action::kWorkerService,
      [&](const auth::Identity& caller, std::string& target) {
        auto [header, upload] = receive_upload(reader, artifacts_, [&](const auto& header) {
          target = header.lease().job_id().substr(0, 64);
          require_holder(caller, header.lease());
          if (header.step() <= 0) throw std::invalid_argument("header.step: must be > 0");
          return job_room(header.lease().job_id());
        });
        const auto& lease = header.lease();
        const auto bytes = upload->size();
        const std::string sha = artifacts_.commit_checkpoint(lease.job_id(), *upload);
        std::string replaced;
        try {
          replaced = store_.record_checkpoint(lease, header.step(), sha);
        } catch (...) {
          // Refused (the lease ended meanwhile): drop the file, unless it is byte for byte the
          // checkpoint already acknowledged, which must stay.
          if (store_.checkpoint_sha(lease.job_id()) != sha) {
            artifacts_.remove_checkpoint(lease.job_id(), sha);
          }
          throw;
        }
        if (!replaced.empty()) artifacts_.remove_checkpoint(lease.job_id(), replaced);
        response->set_sha256(sha);
        response->set_bytes(bytes);
        spdlog::info("job {} checkpoint at step {} stored ({} bytes, {})", lease.job_id(),
                     header.step(), bytes, sha.substr(0, 12));
      });
}

grpc::Status WorkerServiceImpl::DownloadCheckpoint(grpc::ServerContext* context,
                                                   const v1::DownloadCheckpointRequest* request,
                                                   grpc::ServerWriter<v1::DownloadChunk>* writer) {
  return authority_.read(
      "DownloadCheckpoint", context, Action::kWorkerService, [&](const auth::Identity& caller) {
        if (request->lease().job_id().empty()) {
          throw std::invalid_argument("lease.job_id: must name the leased job");
        }
        store_.require_holder_or_member(request->lease(), caller.token_id);
        const auto& job_id = request->lease().job_id();
        const std::string sha = store_.checkpoint_sha(job_id);
        if (sha.empty()) throw RpcError(grpc::StatusCode::NOT_FOUND, "job " + job_id + " has none");
        std::ifstream in(artifacts_.checkpoint_path(job_id, sha), std::ios::binary);
        if (!in)
          throw std::runtime_error("checkpoint " + sha + " of job " + job_id + " is missing");
        v1::DownloadChunk chunk;
        chunk.set_step(store_.job(job_id).checkpoint_step());
        send_in_chunks(in, [&](std::string_view bytes) {
          chunk.set_data(bytes.data(), bytes.size());
          return writer->Write(chunk);
        });
      });
}

grpc::Status WorkerServiceImpl::UploadModel(grpc::ServerContext* context,
                                            grpc::ServerReader<v1::UploadRequest>* reader,
                                            v1::UploadResponse* response) {
  return authority_.write("UploadModel", context, Action::kWorkerService,
                          [&](const auth::Identity& caller, std::string& target) {
                            auto [header, upload] =
                                receive_upload(reader, artifacts_, [&](const auto& header) {
                                  target = header.lease().job_id().substr(0, 64);
                                  require_holder(caller, header.lease());
                                  return job_room(header.lease().job_id());
                                });
                            response->set_bytes(upload->size());
                            response->set_sha256(artifacts_.commit_model(*upload));
                          });
}

grpc::Status WorkerServiceImpl::CompleteTask(grpc::ServerContext* context,
                                             const v1::CompleteTaskRequest* request,
                                             v1::LeaseStatus* response) {
  return authority_.write(
      "CompleteTask", context, Action::kWorkerService,
      [&](const auth::Identity& caller, std::string& target) {
        const auto& lease = request->lease();
        target = lease.job_id().substr(0, 64);
        require_holder(caller, lease);
        require_sha256("model_sha256", request->model_sha256());
        const auto directory = artifacts_.model_directory(request->model_sha256());
        if (!std::filesystem::exists(directory)) {
          throw std::invalid_argument("model_sha256: no model uploaded under '" +
                                      request->model_sha256() + "'");
        }
        const auto job = store_.job(lease.job_id());
        NewModel model;
        model.name = job.name() + "-" + job.id();
        model.source = "search";
        model.team = job.team();
        model.job_id = job.id();
        model.spec_yaml = job.spec_yaml();
        model.sha256 = request->model_sha256();
        describe_model_directory(directory, model);
        if (model.report_json.empty()) {
          throw std::invalid_argument("model_sha256: the uploaded model has no report.json");
        }
        // The spec was validated at submission; `promote: true` asks for the quality gate.
        model.promote = parse_search_spec(job.spec_yaml()).promote;
        const auto registered = store_.complete(lease, model);
        gate_.notify();
        spdlog::info("job {} succeeded: model {} ({})", job.id(), registered.id(),
                     registered.name());
      });
}

grpc::Status WorkerServiceImpl::FailTask(grpc::ServerContext* context,
                                         const v1::FailTaskRequest* request,
                                         v1::LeaseStatus* response) {
  return authority_.write(
      "FailTask", context, Action::kWorkerService,
      [&](const auth::Identity& caller, std::string& target) {
        target = request->lease().job_id().substr(0, 64);
        if (request->reason().empty()) throw std::invalid_argument("reason: must say why");
        store_.require_holder_or_member(request->lease(), caller.token_id);
        *response = store_.fail(request->lease(), request->reason(), request->retryable());
        spdlog::warn("job {} attempt failed ({}): {}", request->lease().job_id(),
                     request->retryable() ? "retryable" : "final", request->reason());
      });
}

}  // namespace ern::server
