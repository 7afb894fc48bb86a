#pragma once
// WorkerService called directly, the way a worker (or someone pretending to be one) would: for
// tests of leases and fencing that need to control every call. Failed calls fail the test.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <string>

#include "ern/v1/worker.grpc.pb.h"

namespace ern::test {

// The new worker's id.
inline std::string register_worker(v1::WorkerService::Stub& workers, const std::string& name) {
  v1::RegisterWorkerRequest request;
  request.set_name(name);
  request.set_device("cpu");
  v1::RegisterWorkerResponse response;
  grpc::ClientContext context;
  EXPECT_TRUE(workers.RegisterWorker(&context, request, &response).ok());
  return response.worker_id();
}

inline v1::AcquireTaskResponse acquire_task(v1::WorkerService::Stub& workers,
                                            const std::string& worker) {
  v1::AcquireTaskRequest request;
  request.set_worker_id(worker);
  v1::AcquireTaskResponse response;
  grpc::ClientContext context;
  EXPECT_TRUE(workers.AcquireTask(&context, request, &response).ok());
  return response;
}

// A checkpoint upload: the header, then `chunks` messages of `content` (until the server stops
// reading).
inline grpc::Status upload_checkpoint(v1::WorkerService::Stub& workers, const v1::Lease& lease,
                                      int64_t step, int chunks, const std::string& content) {
  v1::UploadResponse response;
  grpc::ClientContext context;
  auto writer = workers.UploadCheckpoint(&context, &response);
  v1::UploadRequest message;
  *message.mutable_header()->mutable_lease() = lease;
  message.mutable_header()->set_step(step);
  writer->Write(message);
  message.set_data(content);
  for (int i = 0; i < chunks; ++i) {
    if (!writer->Write(message)) break;
  }
  writer->WritesDone();
  return writer->Finish();
}

}  // namespace ern::test
