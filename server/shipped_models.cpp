#include "server/shipped_models.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <vector>

#include <spdlog/spdlog.h>

#include "common/dir_archive.h"
#include "common/yaml_config.h"
#include "server/model_service.h"

namespace ern::server {
namespace {

namespace fs = std::filesystem;

// Packs `directory` into a new upload of the artifact store and commits it; returns its sha256.
std::string store_model_directory(ArtifactStore& artifacts, const fs::path& directory) {
  const fs::path archive =
      fs::temp_directory_path() / ("ern-shipped-" + std::to_string(::getpid()) + ".ernar");
  pack_directory(directory, archive);
  auto upload = artifacts.begin_upload();
  std::ifstream in(archive, std::ios::binary);
  std::string buffer(1 << 20, '\0');
  while (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || in.gcount() > 0) {
    upload->append(buffer.substr(0, static_cast<size_t>(in.gcount())));
  }
  in.close();
  fs::remove(archive);
  return artifacts.commit_model(*upload);
}

}  // namespace

ShippedModels read_shipped_models(const YAML::Node& node) {
  ShippedModels shipped;
  if (!node) return shipped;
  reject_unknown_fields(node, "shipped_models.", {"directory", "default"});
  std::string directory = shipped.directory.string();
  read_yaml_field(node, "shipped_models.", "directory", directory);
  shipped.directory = directory;
  read_yaml_field(node, "shipped_models.", "default", shipped.default_model);
  return shipped;
}

int register_shipped_models(JobStore& store, ArtifactStore& artifacts,
                            const ShippedModels& shipped) {
  if (shipped.directory.empty() || !fs::is_directory(shipped.directory)) return 0;
  if (!store.models().empty()) return 0;
  std::vector<fs::path> directories;
  for (const auto& entry : fs::directory_iterator(shipped.directory)) {
    if (fs::exists(entry.path() / "model.json")) directories.push_back(entry.path());
  }
  std::sort(directories.begin(), directories.end());
  int registered = 0;
  for (const auto& directory : directories) {
    NewModel model;
    model.name = directory.filename().string();
    model.source = "shipped";
    model.team = "default";
    model.sha256 = store_model_directory(artifacts, directory);
    describe_model_directory(artifacts.model_directory(model.sha256), model);
    const auto added = store.add_model(model);
    spdlog::info("registered shipped model {} as {} ({} parameters)", model.name, added.id(),
                 model.params);
    ++registered;
  }
  if (registered > 0) {
    try {
      const auto chosen = store.set_default_model(shipped.default_model);
      spdlog::info("default model: {} ({})", chosen.name(), chosen.id());
    } catch (const std::exception&) {
      spdlog::warn("shipped default model '{}' is not in {}; the first one is the default",
                   shipped.default_model, shipped.directory.string());
    }
  }
  return registered;
}

}  // namespace ern::server
