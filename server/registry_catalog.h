#pragma once
// The coordinator's registry as the Denoise engine's model catalog: records from the job store,
// unpacked directories from the artifact store.

#include "server/artifact_store.h"
#include "server/job_store.h"
#include "serving/model_catalog.h"

namespace ern::server {

class RegistryCatalog final : public serving::ModelCatalog {
 public:
  RegistryCatalog(JobStore& store, ArtifactStore& artifacts)
      : store_(store), artifacts_(artifacts) {}

  v1::Model resolve(const std::string& requested) override;
  std::filesystem::path directory(const v1::Model& model) override;

 private:
  JobStore& store_;
  ArtifactStore& artifacts_;
};

}  // namespace ern::server
