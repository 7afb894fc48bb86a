#pragma once
// SearchService called the way an ML team's client would, for the integration tests that follow a
// job through its life: submit, read, poll until a condition holds. Failed calls fail the test.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "ern/v1/search.grpc.pb.h"

namespace ern::test {

inline v1::Job submit_search_job(v1::SearchService::Stub& search,
                                 const v1::SubmitSearchJobRequest& request) {
  v1::Job job;
  grpc::ClientContext context;
  const auto status = search.SubmitSearchJob(&context, request, &job);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return job;
}

inline v1::Job submit_search_job(v1::SearchService::Stub& search, const std::string& spec_yaml) {
  v1::SubmitSearchJobRequest request;
  request.set_spec_yaml(spec_yaml);
  return submit_search_job(search, request);
}

inline v1::Job get_job(v1::SearchService::Stub& search, const std::string& id) {
  v1::GetJobRequest request;
  request.set_id(id);
  v1::Job job;
  grpc::ClientContext context;
  const auto status = search.GetJob(&context, request, &job);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return job;
}

// Polls job `id` until `done` holds and returns that state; past `timeout` the test fails naming
// the last state, which is returned. `seen`, when given, sees every polled state.
inline v1::Job wait_for_job(v1::SearchService::Stub& search, const std::string& id,
                            const std::function<bool(const v1::Job&)>& done,
                            std::chrono::seconds timeout,
                            const std::function<void(const v1::Job&)>& seen = nullptr) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  v1::Job job;
  while (std::chrono::steady_clock::now() < deadline) {
    job = get_job(search, id);
    if (seen) seen(job);
    if (done(job)) return job;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "job " << id << " did not get there in " << timeout.count() << " s; it is "
                << job.ShortDebugString();
  return job;
}

}  // namespace ern::test
