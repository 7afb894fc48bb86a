#pragma once
// ern.v1.WorkerService: how workers lease tasks, report progress and hand in checkpoints and
// results (role worker). Each worker id belongs to the token that registered it, and every write is
// checked against the caller's lease and its fencing token (JobStore).

#include <cstdint>

#include "ern/v1/worker.grpc.pb.h"
#include "server/artifact_room.h"
#include "server/artifact_store.h"
#include "server/call_authority.h"
#include "server/job_store.h"
#include "server/quality_gate.h"
#include "server/quotas.h"

namespace ern::server {

struct LeaseTiming {
  int64_t heartbeat_interval_ms = 2000;
  int64_t lease_duration_ms = 10000;  // a lease survives a few missed heartbeats
};

class WorkerServiceImpl final : public v1::WorkerService::Service {
 public:
  WorkerServiceImpl(JobStore& store, ArtifactStore& artifacts, LeaseTiming timing,
                    QualityGate& gate, CallAuthority& authority, const QuotaConfig& quotas);

  grpc::Status RegisterWorker(grpc::ServerContext*, const v1::RegisterWorkerRequest* request,
                              v1::RegisterWorkerResponse* response) override;
  grpc::Status Heartbeat(grpc::ServerContext*, const v1::HeartbeatRequest* request,
                         v1::HeartbeatResponse* response) override;
  grpc::Status AcquireTask(grpc::ServerContext*, const v1::AcquireTaskRequest* request,
                           v1::AcquireTaskResponse* response) override;
  grpc::Status ReportProgress(grpc::ServerContext*, const v1::ReportProgressRequest* request,
                              v1::LeaseStatus* response) override;
  grpc::Status UploadCheckpoint(grpc::ServerContext*, grpc::ServerReader<v1::UploadRequest>* reader,
                                v1::UploadResponse* response) override;
  grpc::Status DownloadCheckpoint(grpc::ServerContext*,
                                  const v1::DownloadCheckpointRequest* request,
                                  grpc::ServerWriter<v1::DownloadChunk>* writer) override;
  grpc::Status UploadModel(grpc::ServerContext*, grpc::ServerReader<v1::UploadRequest>* reader,
                           v1::UploadResponse* response) override;
  grpc::Status CompleteTask(grpc::ServerContext*, const v1::CompleteTaskRequest* request,
                            v1::LeaseStatus* response) override;
  grpc::Status FailTask(grpc::ServerContext*, const v1::FailTaskRequest* request,
                        v1::LeaseStatus* response) override;

 private:
  JobStore& store_;
  ArtifactStore& artifacts_;
  LeaseTiming timing_;
  QualityGate& gate_;
  CallAuthority& authority_;
  const QuotaConfig& quotas_;
  const uint64_t port_salt_;  // GangPlacement::port_salt

  // The caller's worker holds `lease`, and it is current; FAILED_PRECONDITION otherwise.
  void require_holder(const auth::Identity& caller, const v1::Lease& lease);
  // The room the team of `job_id` has left for artifacts.
  ArtifactRoom job_room(const std::string& job_id);
};

}  // namespace ern::server
