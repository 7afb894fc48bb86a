// The part of ern.v1.ModelService that serving replicas (ern-serve) mirror the registry with:
// model archives, streamed, and the registry's state each time it changes.

#include <atomic>
#include <fstream>

#include "common/rpc_error.h"
#include "server/file_chunks.h"
#include "server/model_service.h"

namespace ern::server {
namespace {

using auth::Action;

// Newest models in a snapshot (the default always among them): about 100 bytes each.
constexpr int kMaxSnapshotModels = 5000;
// A snapshot is sent again only when the registry changed; it is looked at this often.
constexpr int64_t kRegistryPollMs = 500;

}  // namespace

grpc::Status ModelServiceImpl::DownloadModel(grpc::ServerContext* context,
                                             const v1::DownloadModelRequest* request,
                                             grpc::ServerWriter<v1::ModelArchiveChunk>* writer) {
  return authority_.read(
      "DownloadModel", context, Action::kMirrorModels, [&](const auth::Identity&) {
        if (request->id().empty()) throw std::invalid_argument("id: must name a model");
        auto model = store_.model(request->id());
        model.clear_report_json();
        const auto archive = artifacts_.model_archive(model.sha256());
        std::error_code error;
        const auto size = std::filesystem::file_size(archive, error);
        std::ifstream in(archive, std::ios::binary);
        if (error || !in)
          throw std::runtime_error("the archive of model " + model.id() + " is missing");
        v1::ModelArchiveChunk chunk;
        *chunk.mutable_header()->mutable_model() = std::move(model);
        chunk.mutable_header()->set_archive_bytes(static_cast<int64_t>(size));
        if (!writer->Write(chunk)) return;
        send_in_chunks(in, [&](std::string_view bytes) {
          chunk.set_data(bytes.data(), bytes.size());
          return writer->Write(chunk);
        });
      });
}

grpc::Status ModelServiceImpl::WatchModels(grpc::ServerContext* context,
                                           const v1::WatchModelsRequest*,
                                           grpc::ServerWriter<v1::RegistrySnapshot>* writer) {
  return authority_.read("WatchModels", context, Action::kMirrorModels, [&](const auth::Identity&) {
    struct Slot {
      std::atomic<int>& count;
      ~Slot() { --count; }
    } slot{registry_watches_};
    if (++registry_watches_ > kMaxRegistryWatches) {
      throw RpcError(grpc::StatusCode::RESOURCE_EXHAUSTED,
                     "WatchModels: " + std::to_string(kMaxRegistryWatches) +
                         " watches are open; try again later");
    }
    std::string sent;  // the fingerprint of the registry last sent
    uint64_t version = store_.version();
    while (!context->IsCancelled()) {
      const auto fingerprint = store_.registry_fingerprint();
      if (fingerprint != sent) {
        v1::RegistrySnapshot snapshot;
        for (auto& model : store_.serving_models(kMaxSnapshotModels)) {
          if (model.is_default()) snapshot.set_default_model_id(model.id());
          *snapshot.add_models() = std::move(model);
        }
        if (!writer->Write(snapshot)) return;
        sent = fingerprint;
      }
      version = store_.wait_for_change(version, kRegistryPollMs);
    }
  });
}

}  // namespace ern::server
