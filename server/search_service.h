#pragma once
// ern.v1.SearchService: submit, inspect, cancel and watch search jobs.

#include <atomic>
#include <functional>
#include <string>

#include "ern/v1/search.grpc.pb.h"
#include "server/call_authority.h"
#include "server/job_store.h"
#include "server/quotas.h"

namespace ern::server {

// Concurrent WatchJob streams a coordinator serves.
constexpr int kMaxWatchStreams = 128;

class SearchServiceImpl final : public v1::SearchService::Service {
 public:
  // `check_device` throws std::invalid_argument when the target device is unknown (it asks the
  // device farm); empty: devices are checked by the worker only.
  SearchServiceImpl(JobStore& store, CallAuthority& authority, const QuotaConfig& quotas,
                    std::function<void(const std::string&)> check_device);

  grpc::Status SubmitSearchJob(grpc::ServerContext*, const v1::SubmitSearchJobRequest* request,
                               v1::Job* response) override;
  grpc::Status GetJob(grpc::ServerContext*, const v1::GetJobRequest* request,
                      v1::Job* response) override;
  grpc::Status ListJobs(grpc::ServerContext*, const v1::ListJobsRequest* request,
                        v1::ListJobsResponse* response) override;
  grpc::Status CancelJob(grpc::ServerContext*, const v1::CancelJobRequest* request,
                         v1::Job* response) override;
  grpc::Status WatchJob(grpc::ServerContext* context, const v1::WatchJobRequest* request,
                        grpc::ServerWriter<v1::JobEvent>* writer) override;

 private:
  JobStore& store_;
  CallAuthority& authority_;
  const QuotaConfig& quotas_;
  std::function<void(const std::string&)> check_device_;
  // Each WatchJob holds a server thread for as long as it runs; past the cap new watches get
  // RESOURCE_EXHAUSTED, so watchers can never starve workers' heartbeats of threads.
  std::atomic<int> watches_{0};
};

}  // namespace ern::server
