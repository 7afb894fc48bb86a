#pragma once
// ern.v1.DenoiseService: registered models denoise applications' images. Models are loaded from
// the artifact store on first use and kept; each runs one request at a time.

#include <map>
#include <memory>
#include <mutex>

#include "ern/v1/denoise.grpc.pb.h"
#include "model/nafnet.h"
#include "server/artifact_store.h"
#include "server/job_store.h"

namespace ern::server {

class DenoiseServiceImpl final : public v1::DenoiseService::Service {
 public:
  DenoiseServiceImpl(JobStore& store, ArtifactStore& artifacts);

  grpc::Status Denoise(grpc::ServerContext*, const v1::DenoiseRequest* request,
                       v1::DenoiseResponse* response) override;

 private:
  struct LoadedModel {
    std::mutex busy;
    Nafnet network{nullptr};
  };
  std::shared_ptr<LoadedModel> loaded(const v1::Model& model);

  JobStore& store_;
  ArtifactStore& artifacts_;
  std::mutex cache_mutex_;
  std::map<std::string, std::shared_ptr<LoadedModel>> cache_;  // by archive sha256
};

}  // namespace ern::server
