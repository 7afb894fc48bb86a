#pragma once
// The models that ship with ERN (models/ in the repository: the pretrained NAFNet baseline and the
// ERN-Net searched from it). A coordinator starting on an empty registry registers each of them,
// so Denoise serves a good model before any search has run, and makes the configured one the
// default.

#include <filesystem>
#include <string>

#include <yaml-cpp/yaml.h>

#include "server/artifact_store.h"
#include "server/job_store.h"

namespace ern::server {

struct ShippedModels {
  std::filesystem::path directory = "models";  // one model directory per subfolder; "" = none
  std::string default_model = "ern-net";       // its folder name; when absent, the first one
};

// The `shipped_models:` section of the coordinator config.
ShippedModels read_shipped_models(const YAML::Node& node);

// Registers every model directory under `shipped.directory` (sorted by name, source "shipped")
// when the registry holds no model yet; a missing folder registers nothing. Returns how many.
int register_shipped_models(JobStore& store, ArtifactStore& artifacts,
                            const ShippedModels& shipped);

}  // namespace ern::server
