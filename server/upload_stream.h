#pragma once
// Receiving a client-streamed upload: the first message carries the header, the rest the bytes of
// a directory archive, written to an incoming artifact as they arrive.

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <utility>

#include "common/quota_refusal.h"
#include "common/rpc_error.h"
#include "server/artifact_room.h"
#include "server/artifact_store.h"
#include "server/quotas.h"

namespace ern::server {

// Caps a single upload (a paper-scale search checkpoint is ~0.4 GB).
constexpr int64_t kMaxUploadBytes = int64_t{8} << 30;

// `check_header` runs before a byte of data is stored, so a refused upload (no lease, another
// team, a bad name) costs no disk; it returns the room the upload's team has left.
template <typename Request, typename CheckHeader>
std::pair<typename Request::Header, std::unique_ptr<IncomingArtifact>> receive_upload(
    grpc::ServerReader<Request>* reader, ArtifactStore& artifacts, CheckHeader&& check_header) {
  Request message;
  if (!reader->Read(&message) || !message.has_header()) {
    throw std::invalid_argument("header: the first message must carry the header");
  }
  auto header = message.header();
  const ArtifactRoom room = check_header(header);
  const auto refuse_quota = [&] {
    refuse_over_quota("max_artifact_bytes", "team " + room.team + " may store " +
                                                std::to_string(room.limit) +
                                                " bytes of checkpoints and models (quotas.teams." +
                                                room.team + ".max_artifact_bytes)");
  };
  if (room.limit > 0 && room.bytes_left <= 0) refuse_quota();
  auto upload = artifacts.begin_upload();
  while (reader->Read(&message)) {
    if (message.has_header()) throw std::invalid_argument("header: sent twice");
    upload->append(message.data());
    if (upload->size() > kMaxUploadBytes) {
      throw RpcError(grpc::StatusCode::RESOURCE_EXHAUSTED,
                     "data: upload exceeds " + std::to_string(kMaxUploadBytes) + " bytes");
    }
    if (room.limit > 0 && upload->size() > room.bytes_left) refuse_quota();
  }
  if (upload->size() == 0) throw std::invalid_argument("data: the upload is empty");
  return {std::move(header), std::move(upload)};
}

}  // namespace ern::server
