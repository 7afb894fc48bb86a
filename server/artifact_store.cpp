#include "server/artifact_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <stdexcept>

#include "common/dir_archive.h"
#include "common/sha256.h"

namespace ern::server {
namespace {

namespace fs = std::filesystem;

void fsync_path(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw std::runtime_error(path.filename().string() + ": cannot open to sync");
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) throw std::runtime_error(path.filename().string() + ": cannot sync to disk");
}

// A name under incoming/ that no other upload or unpacking of this process uses.
std::string unique_incoming_name(const char* suffix) {
  static std::atomic<uint64_t> counter{0};
  return std::to_string(::getpid()) + "-" + std::to_string(++counter) + suffix;
}

}  // namespace

IncomingArtifact::IncomingArtifact(const fs::path& path)
    : path_(path), out_(path, std::ios::binary | std::ios::trunc) {
  if (!out_) throw std::runtime_error(path.string() + ": cannot write");
}

IncomingArtifact::~IncomingArtifact() {
  std::error_code ignored;
  fs::remove(path_, ignored);  // a committed upload was renamed away already
}

void IncomingArtifact::append(const std::string& bytes) {
  out_.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out_) throw std::runtime_error(path_.string() + ": write failed");
  size_ += static_cast<int64_t>(bytes.size());
}

const fs::path& IncomingArtifact::finish() {
  out_.close();
  if (out_.fail()) throw std::runtime_error(path_.string() + ": write failed");
  return path_;
}

ArtifactStore::ArtifactStore(const fs::path& root) : root_(root) {
  fs::remove_all(root_ / "incoming");
  fs::create_directories(root_ / "incoming");
  fs::create_directories(root_ / "checkpoints");
  fs::create_directories(root_ / "models");
}

std::unique_ptr<IncomingArtifact> ArtifactStore::begin_upload() {
  return std::make_unique<IncomingArtifact>(root_ / "incoming" / unique_incoming_name(".part"));
}

std::string ArtifactStore::hash_and_fsync(const fs::path& file) {
  fsync_path(file);
  return sha256_file_hex(file);
}

std::string ArtifactStore::commit_checkpoint(const std::string& job_id, IncomingArtifact& upload) {
  const auto& file = upload.finish();
  const std::string sha = hash_and_fsync(file);
  const fs::path target = checkpoint_path(job_id, sha);
  fs::create_directories(target.parent_path());
  fs::rename(file, target);
  fsync_path(target.parent_path());
  return sha;
}

std::string ArtifactStore::commit_model(IncomingArtifact& upload) {
  const auto& file = upload.finish();
  const std::string sha = hash_and_fsync(file);
  const fs::path directory = model_directory(sha);
  if (!fs::exists(directory)) {
    // Unpacked under a name of its own (concurrent uploads of the same archive each have one),
    // then renamed into place; if another got there first, its copy stays and this one goes.
    const fs::path unpacking = root_ / "incoming" / unique_incoming_name(".unpacking");
    try {
      unpack_directory(file, unpacking);
    } catch (const std::runtime_error& error) {
      fs::remove_all(unpacking);
      throw std::invalid_argument(std::string("data: ") + error.what());
    }
    std::error_code taken;
    fs::rename(unpacking, directory, taken);
    if (taken) fs::remove_all(unpacking);
  }
  fs::rename(file, model_archive(sha));
  fsync_path(root_ / "models");
  return sha;
}

fs::path ArtifactStore::checkpoint_path(const std::string& job_id, const std::string& sha) const {
  return checkpoint_directory(job_id) / (sha + ".ernar");
}

fs::path ArtifactStore::checkpoint_directory(const std::string& job_id) const {
  return root_ / "checkpoints" / job_id;
}

void ArtifactStore::remove_checkpoint(const std::string& job_id, const std::string& sha) {
  std::error_code ignored;
  fs::remove(checkpoint_path(job_id, sha), ignored);
}

void ArtifactStore::remove_model(const std::string& sha) {
  std::error_code ignored;
  fs::remove(model_archive(sha), ignored);
  fs::remove_all(model_directory(sha), ignored);
}

fs::path ArtifactStore::model_archive(const std::string& sha) const {
  return root_ / "models" / (sha + ".ernar");
}

fs::path ArtifactStore::model_directory(const std::string& sha) const {
  return root_ / "models" / sha;
}

}  // namespace ern::server
