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

}  // namespace ern::test
