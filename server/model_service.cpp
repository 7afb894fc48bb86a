#include "server/model_service.h"

#include <fstream>
#include <regex>

#include <nlohmann/json.hpp>

#include "common/auth/team_scope.h"
#include "common/rpc_error.h"
#include "inference/int8_calibration.h"
#include "inference/precision.h"
#include "model/architecture.h"
#include "server/artifact_room.h"
#include "server/identifier.h"
#include "server/upload_stream.h"

namespace ern::server {
namespace {

// What an upload's model.json and report.json may take: bounded, so that parsing them and the
// registry rows made from them stay small whatever a model directory holds. (A model.json holds an
// int8 calibration of one range per channel of two tensors per block: about 200 KB for NAFNet-32.)
constexpr int64_t kMaxModelJsonBytes = 1 << 20;
constexpr int64_t kMaxReportBytes = 1 << 20;

// The file's text; empty when it does not exist.
std::string read_bounded(const std::filesystem::path& file, int64_t max_bytes) {
  std::error_code error;
  const auto size = std::filesystem::file_size(file, error);
  if (error) return "";
  if (static_cast<int64_t>(size) > max_bytes) {
    throw std::invalid_argument("data: " + file.filename().string() + " is " +
                                std::to_string(size) + " bytes, over the limit of " +
                                std::to_string(max_bytes));
  }
  std::ifstream in(file, std::ios::binary);
  std::string text(size, '\0');
  in.read(text.data(), static_cast<std::streamsize>(size));
  return text;
}

}  // namespace

void describe_model_directory(const std::filesystem::path& directory, NewModel& model) {
  const std::string model_json = read_bounded(directory / "model.json", kMaxModelJsonBytes);
  if (model_json.empty())
    throw std::invalid_argument("data: the model directory has no model.json");
  if (!std::filesystem::exists(directory / "weights.safetensors")) {
    throw std::invalid_argument("data: the model directory has no weights.safetensors");
  }
  try {
    const auto json = nlohmann::json::parse(model_json);
    const auto architecture = NafnetArchitecture::from_json(json.at("architecture"));
    model.architecture_json = architecture.to_json().dump();
    model.params = architecture.expected_parameter_count();
    const auto metadata = json.value("metadata", nlohmann::json::object());
    if (inference::serving_precision_of(metadata) == inference::Precision::kInt8) {
      inference::int8_calibration_of(metadata, architecture);
    }
  } catch (const std::exception& error) {
    throw std::invalid_argument(std::string("data: model.json: ") + error.what());
  }
  model.report_json = read_bounded(directory / "report.json", kMaxReportBytes);
  if (model.report_json.empty()) return;
  // A search's lineage: the images it read and the lookup-table rows it used.
  try {
    const auto lineage =
        nlohmann::json::parse(model.report_json).value("lineage", nlohmann::json());
    if (lineage.is_object()) {
      model.lineage.set_data_sha256(lineage.value("data_sha256", ""));
      model.lineage.set_latency_device(lineage.value("latency_device", ""));
      model.lineage.set_latency_table_sha256(lineage.value("latency_table_sha256", ""));
      model.lineage.set_latency_table_rows(lineage.value("latency_table_rows", 0));
    }
  } catch (const nlohmann::json::exception& error) {
    throw std::invalid_argument(std::string("data: report.json: ") + error.what());
  }
}

using auth::Action;

namespace {

// Searched models are named NAME-job-NNNNNN when their job ends; an import may not take such a
// name first and make that job's completion fail.
void require_not_reserved(const std::string& name) {
  static const std::regex kSearchedName(".*-job-[0-9]+");
  if (std::regex_match(name, kSearchedName)) {
    throw std::invalid_argument(
        "header.name: names ending in -job-NNNNNN are reserved for "
        "searched models");
  }
}

}  // namespace

ModelServiceImpl::ModelServiceImpl(JobStore& store, ArtifactStore& artifacts, QualityGate& gate,
                                   CallAuthority& authority, const QuotaConfig& quotas)
    : store_(store), artifacts_(artifacts), gate_(gate), authority_(authority), quotas_(quotas) {}

grpc::Status ModelServiceImpl::ListModels(grpc::ServerContext* context,
                                          const v1::ListModelsRequest* request,
                                          v1::ListModelsResponse* response) {
  return authority_.read(
      "ListModels", context, Action::kReadModels, [&](const auth::Identity& caller) {
        const int page_size = request->page_size() == 0 ? 100 : request->page_size();
        if (page_size < 1 || page_size > 1000) {
          throw std::invalid_argument("page_size: must be in 1..1000");
        }
        auto listed = store_.list_models(
            [&](const v1::Model& model) { return auth::is_visible(caller, model); }, page_size,
            request->page_token());
        for (auto& model : listed.models) *response->add_models() = std::move(model);
        response->set_next_page_token(listed.next_page_token);
      });
}

grpc::Status ModelServiceImpl::GetModel(grpc::ServerContext* context,
                                        const v1::GetModelRequest* request, v1::Model* response) {
  return authority_.read("GetModel", context, Action::kReadModels,
                         [&](const auth::Identity& caller) {
                           if (request->id().empty()) {
                             throw std::invalid_argument("id: must name a model");
                           }
                           *response = store_.model(request->id());
                           auth::require_visible(caller, *response, request->id());
                         });
}

grpc::Status ModelServiceImpl::SetDefaultModel(grpc::ServerContext* context,
                                               const v1::SetDefaultModelRequest* request,
                                               v1::Model* response) {
  return authority_.write(
      "SetDefaultModel", context, Action::kSetDefaultModel,
      [&](const auth::Identity&, std::string& target) {
        if (request->id().empty()) throw std::invalid_argument("id: must name a model");
        target = request->id().substr(0, 64) + (request->force() ? " (forced)" : "");
        DefaultModelGate gate;
        if (!request->force()) {
          gate = [this](const v1::Model& candidate, const std::optional<v1::Model>& current) {
            gate_.check(candidate, current);
          };
        }
        *response = store_.set_default_model(request->id(), gate);
        spdlog::info("default model is now {} ({}){}", response->id(), response->name(),
                     request->force() ? ", forced past the quality gate" : "");
      });
}

grpc::Status ModelServiceImpl::ImportModel(grpc::ServerContext* context,
                                           grpc::ServerReader<v1::ImportModelRequest>* reader,
                                           v1::Model* response) {
  return authority_.write(
      "ImportModel", context, Action::kImportModel,
      [&](const auth::Identity& caller, std::string& target) {
        std::string team;
        auto [header, upload] = receive_upload(reader, artifacts_, [&](const auto& header) {
          require_identifier("header.name", header.name());
          require_not_reserved(header.name());
          target = header.name();
          team = auth::acting_team(caller, header.team(), "header.team");
          require_identifier("header.team", team);
          return artifact_room(store_, artifacts_, quotas_, team);
        });
        NewModel model;
        model.name = header.name();
        model.team = team;
        require_identifier("header.team", model.team);
        model.source = "import";
        // One import at a time from here on: a failed import removes the files it stored unless
        // a registered model uses them, and another import of the same files must not be
        // registering them meanwhile.
        std::lock_guard lock(imports_mutex_);
        model.sha256 = artifacts_.commit_model(*upload);
        try {
          describe_model_directory(artifacts_.model_directory(model.sha256), model);
          *response = store_.add_model(model);
        } catch (...) {
          if (!store_.model_stored(model.sha256)) artifacts_.remove_model(model.sha256);
          throw;
        }
        gate_.notify();
        spdlog::info("model {} imported as {} ({} parameters)", model.name, response->id(),
                     model.params);
      });
}

}  // namespace ern::server
