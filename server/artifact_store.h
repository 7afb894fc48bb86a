#pragma once
// The coordinator's files: search checkpoints and model directories, stored as directory archives
// named by their SHA-256. Uploads land under incoming/ with a temporary name and are renamed into
// place only when complete, so a crash never leaves a half-written artifact under a real name.
//
//   <root>/incoming/           uploads and unpackings in progress (cleared at start-up)
//   <root>/checkpoints/<job>/<sha256>.ernar
//   <root>/models/<sha256>.ernar and models/<sha256>/ (unpacked, for serving)

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace ern::server {

// An upload being received; the file is removed unless committed.
class IncomingArtifact {
 public:
  explicit IncomingArtifact(const std::filesystem::path& path);
  ~IncomingArtifact();
  IncomingArtifact(const IncomingArtifact&) = delete;
  IncomingArtifact& operator=(const IncomingArtifact&) = delete;

  void append(const std::string& bytes);
  // Closes the file (flushed to disk) and returns its path.
  const std::filesystem::path& finish();
  int64_t size() const { return size_; }

 private:
  std::filesystem::path path_;
  std::ofstream out_;
  int64_t size_ = 0;
};

class ArtifactStore {
 public:
  explicit ArtifactStore(const std::filesystem::path& root);

  std::unique_ptr<IncomingArtifact> begin_upload();
  // Moves a finished upload into place; returns its sha256.
  std::string commit_checkpoint(const std::string& job_id, IncomingArtifact& upload);
  // Moves a finished model upload into place and unpacks it; throws std::invalid_argument when the
  // archive is damaged. Returns its sha256.
  std::string commit_model(IncomingArtifact& upload);

  std::filesystem::path checkpoint_path(const std::string& job_id, const std::string& sha256) const;
  std::filesystem::path checkpoint_directory(const std::string& job_id) const;
  void remove_checkpoint(const std::string& job_id, const std::string& sha256);
  // Removes a model's archive and unpacked directory (a failed import's).
  void remove_model(const std::string& sha256);
  std::filesystem::path model_archive(const std::string& sha256) const;
  std::filesystem::path model_directory(const std::string& sha256) const;

 private:
  std::string hash_and_fsync(const std::filesystem::path& file);
  std::filesystem::path root_;
};

}  // namespace ern::server
