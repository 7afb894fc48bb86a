#pragma once
// ern.v1.ModelService: the registry of searched and imported models.

#include <atomic>
#include <mutex>

#include "ern/v1/models.grpc.pb.h"
#include "server/artifact_store.h"
#include "server/call_authority.h"
#include "server/job_store.h"
#include "server/quality_gate.h"
#include "server/quotas.h"

namespace ern::server {

// Concurrent WatchModels streams a coordinator serves: one or two per replica. A cap keeps
// watchers from taking every thread of the server.
constexpr int kMaxRegistryWatches = 64;

// Reads a stored model directory's model.json into the registry's fields (architecture, params);
// throws std::invalid_argument naming what is wrong.
void describe_model_directory(const std::filesystem::path& directory, NewModel& model);

class ModelServiceImpl final : public v1::ModelService::Service {
 public:
  ModelServiceImpl(JobStore& store, ArtifactStore& artifacts, QualityGate& gate,
                   CallAuthority& authority, const QuotaConfig& quotas);

  grpc::Status ListModels(grpc::ServerContext*, const v1::ListModelsRequest*,
                          v1::ListModelsResponse* response) override;
  grpc::Status GetModel(grpc::ServerContext*, const v1::GetModelRequest* request,
                        v1::Model* response) override;
  grpc::Status SetDefaultModel(grpc::ServerContext*, const v1::SetDefaultModelRequest* request,
                               v1::Model* response) override;
  grpc::Status ImportModel(grpc::ServerContext*, grpc::ServerReader<v1::ImportModelRequest>* reader,
                           v1::Model* response) override;
  // model_feed.cpp: for serving replicas.
  grpc::Status DownloadModel(grpc::ServerContext* context, const v1::DownloadModelRequest* request,
                             grpc::ServerWriter<v1::ModelArchiveChunk>* writer) override;
  grpc::Status WatchModels(grpc::ServerContext* context, const v1::WatchModelsRequest*,
                           grpc::ServerWriter<v1::RegistrySnapshot>* writer) override;

 private:
  JobStore& store_;
  ArtifactStore& artifacts_;
  QualityGate& gate_;
  CallAuthority& authority_;
  const QuotaConfig& quotas_;
  std::mutex imports_mutex_;
  std::atomic<int> registry_watches_{0};
};

}  // namespace ern::server
