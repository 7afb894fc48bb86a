#include "worker/coordinator_client.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <thread>

#include "common/auth/token_channel.h"

namespace ern::worker {
namespace {

constexpr auto kCallDeadline = std::chrono::seconds(30);
constexpr auto kTransferDeadline = std::chrono::minutes(30);
constexpr size_t kChunkBytes = 1 << 20;

void set_deadline(grpc::ClientContext& context, std::chrono::seconds deadline) {
  context.set_deadline(std::chrono::system_clock::now() + deadline);
}

// CANCELLED too: a coordinator shutting down cancels the calls in progress on its side.
bool is_transient(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE ||
         status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
         status.error_code() == grpc::StatusCode::CANCELLED;
}

// Turns a failed status into the matching exception.
void check(const grpc::Status& status, const char* method) {
  if (status.ok()) return;
  const std::string message = std::string(method) + ": " + status.error_message();
  if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION) throw LeaseLost(message);
  if (is_transient(status)) throw CoordinatorUnavailable(message);
  throw std::runtime_error(message + " (" + std::to_string(status.error_code()) + ")");
}

}  // namespace

CoordinatorClient::CoordinatorClient(std::shared_ptr<grpc::Channel> channel,
                                     const std::string& address, std::chrono::seconds retry_budget)
    : address_(address),
      retry_budget_(retry_budget),
      stub_(v1::WorkerService::NewStub(std::move(channel))) {}

template <typename Call>
void CoordinatorClient::with_retries(std::chrono::seconds budget, Call&& call) {
  const auto give_up = std::chrono::steady_clock::now() + budget;
  auto backoff = std::chrono::milliseconds(100);
  while (true) {
    try {
      call();
      return;
    } catch (const CoordinatorUnavailable& error) {
      if (std::chrono::steady_clock::now() + backoff > give_up) throw;
      spdlog::warn("{} (retrying in {} ms)", error.what(), backoff.count());
      const auto wake = std::chrono::steady_clock::now() + backoff;
      while (std::chrono::steady_clock::now() < wake) {
        if (stop_ && *stop_) throw;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(5));
    }
  }
}

v1::RegisterWorkerResponse CoordinatorClient::register_worker(
    const v1::RegisterWorkerRequest& request) {
  v1::RegisterWorkerResponse response;
  with_retries(retry_budget_, [&] {
    grpc::ClientContext context;
    set_deadline(context, kCallDeadline);
    check(stub_->RegisterWorker(&context, request, &response), "RegisterWorker");
  });
  return response;
}

v1::HeartbeatResponse CoordinatorClient::heartbeat(const v1::HeartbeatRequest& request) {
  v1::HeartbeatResponse response;
  grpc::ClientContext context;
  set_deadline(context, std::chrono::seconds(10));
  check(stub_->Heartbeat(&context, request, &response), "Heartbeat");
  return response;
}

v1::LeaseStatus CoordinatorClient::report_progress(const v1::ReportProgressRequest& request) {
  v1::LeaseStatus response;
  grpc::ClientContext context;
  set_deadline(context, std::chrono::seconds(10));
  check(stub_->ReportProgress(&context, request, &response), "ReportProgress");
  return response;
}

v1::AcquireTaskResponse CoordinatorClient::acquire(const std::string& worker_id) {
  v1::AcquireTaskRequest request;
  request.set_worker_id(worker_id);
  v1::AcquireTaskResponse response;
  with_retries(retry_budget_, [&] {
    grpc::ClientContext context;
    set_deadline(context, kCallDeadline);
    check(stub_->AcquireTask(&context, request, &response), "AcquireTask");
  });
  return response;
}

std::string CoordinatorClient::upload(Artifact kind, const v1::Lease& lease, int64_t step,
                                      const std::filesystem::path& archive) {
  const char* method = kind == Artifact::kModel ? "UploadModel" : "UploadCheckpoint";
  v1::UploadResponse response;
  // A checkpoint is offered once (training goes on; the next one is offered again); the model is
  // the job's result and is retried for the whole budget.
  with_retries(kind == Artifact::kModel ? retry_budget_ : std::chrono::seconds(0), [&] {
    grpc::ClientContext context;
    set_deadline(context, std::chrono::duration_cast<std::chrono::seconds>(kTransferDeadline));
    auto writer = kind == Artifact::kModel ? stub_->UploadModel(&context, &response)
                                           : stub_->UploadCheckpoint(&context, &response);
    v1::UploadRequest message;
    *message.mutable_header()->mutable_lease() = lease;
    message.mutable_header()->set_step(step);
    bool open = writer->Write(message);
    std::ifstream in(archive, std::ios::binary);
    if (!in) throw std::runtime_error(archive.string() + ": cannot read");
    std::string buffer(kChunkBytes, '\0');
    while (open && (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) ||
                    in.gcount() > 0)) {
      message.set_data(buffer.data(), static_cast<size_t>(in.gcount()));
      open = writer->Write(message);
    }
    writer->WritesDone();
    check(writer->Finish(), method);
  });
  return response.sha256();
}

std::string CoordinatorClient::upload_checkpoint(const v1::Lease& lease, int64_t step,
                                                 const std::filesystem::path& archive) {
  return upload(Artifact::kCheckpoint, lease, step, archive);
}

std::string CoordinatorClient::upload_model(const v1::Lease& lease,
                                            const std::filesystem::path& archive) {
  return upload(Artifact::kModel, lease, 0, archive);
}

int64_t CoordinatorClient::download_checkpoint(const v1::Lease& lease,
                                               const std::filesystem::path& archive) {
  int64_t step = 0;
  with_retries(retry_budget_, [&] {
    v1::DownloadCheckpointRequest request;
    *request.mutable_lease() = lease;
    grpc::ClientContext context;
    set_deadline(context, std::chrono::duration_cast<std::chrono::seconds>(kTransferDeadline));
    auto reader = stub_->DownloadCheckpoint(&context, request);
    std::ofstream out(archive, std::ios::binary | std::ios::trunc);
    v1::DownloadChunk chunk;
    bool first = true;
    while (reader->Read(&chunk)) {
      if (first) step = chunk.step();
      first = false;
      out.write(chunk.data().data(), static_cast<std::streamsize>(chunk.data().size()));
    }
    check(reader->Finish(), "DownloadCheckpoint");
    if (!out.flush()) throw std::runtime_error(archive.string() + ": write failed");
  });
  return step;
}

void CoordinatorClient::complete(const v1::Lease& lease, const std::string& model_sha256) {
  v1::CompleteTaskRequest request;
  *request.mutable_lease() = lease;
  request.set_model_sha256(model_sha256);
  with_retries(retry_budget_, [&] {
    v1::LeaseStatus response;
    grpc::ClientContext context;
    set_deadline(context, kCallDeadline);
    check(stub_->CompleteTask(&context, request, &response), "CompleteTask");
  });
}

void CoordinatorClient::fail(const v1::Lease& lease, const std::string& reason, bool retryable) {
  v1::FailTaskRequest request;
  *request.mutable_lease() = lease;
  request.set_reason(reason);
  request.set_retryable(retryable);
  with_retries(retry_budget_, [&] {
    v1::LeaseStatus response;
    grpc::ClientContext context;
    set_deadline(context, kCallDeadline);
    check(stub_->FailTask(&context, request, &response), "FailTask");
  });
}

}  // namespace ern::worker
