#include "server/search_service.h"

#include "common/auth/team_scope.h"
#include "common/rpc_error.h"
#include "model/search_pipeline.h"
#include "model/search_spec.h"
#include "server/identifier.h"

namespace ern::server {
namespace {

constexpr int64_t kWatchPollMs = 500;

bool is_terminal(v1::JobState state) {
  return state == v1::SUCCEEDED || state == v1::FAILED || state == v1::CANCELLED;
}

void require_id(const std::string& id) {
  if (id.empty()) throw std::invalid_argument("id: must name a job");
}

v1::JobEvent::Kind change_between(const v1::Job& before, const v1::Job& after) {
  if (before.state() != after.state()) return v1::JobEvent::STATE;
  if (before.stage() != after.stage()) return v1::JobEvent::STAGE;
  return v1::JobEvent::PROGRESS;
}

bool same_view(const v1::Job& a, const v1::Job& b) {
  return a.SerializeAsString() == b.SerializeAsString();
}

}  // namespace

using auth::Action;

SearchServiceImpl::SearchServiceImpl(JobStore& store, CallAuthority& authority,
                                     const QuotaConfig& quotas,
                                     std::function<void(const std::string&)> check_device)
    : store_(store),
      authority_(authority),
      quotas_(quotas),
      check_device_(std::move(check_device)) {}

grpc::Status SearchServiceImpl::SubmitSearchJob(grpc::ServerContext* context,
                                                const v1::SubmitSearchJobRequest* request,
                                                v1::Job* response) {
  return authority_.write(
      "SubmitSearchJob", context, Action::kSubmitJob,
      [&](const auth::Identity& caller, std::string& target) {
        if (request->spec_yaml().empty())
          throw std::invalid_argument("spec_yaml: must not be empty");
        SearchSpec spec;
        try {
          spec = parse_search_spec(request->spec_yaml());
        } catch (const std::invalid_argument& error) {
          throw std::invalid_argument(std::string("spec_yaml: ") + error.what());
        }
        const std::string team = auth::acting_team(caller, request->team(), "team");
        require_identifier("team", team);
        if (request->priority() < 0 || request->priority() > 100) {
          throw std::invalid_argument("priority: must be in 0..100");
        }
        const int max_attempts = request->max_attempts() == 0 ? 3 : request->max_attempts();
        if (max_attempts < 1 || max_attempts > 100) {
          throw std::invalid_argument("max_attempts: must be in 1..100");
        }
        if (check_device_) {
          try {
            check_device_(spec.device);
          } catch (const std::invalid_argument& error) {
            throw std::invalid_argument(std::string("spec_yaml: ") + error.what());
          } catch (const std::runtime_error& error) {
            throw RpcError(grpc::StatusCode::UNAVAILABLE,
                           std::string("cannot check spec_yaml.device: ") + error.what());
          }
        }
        if (!request->sweep().empty()) require_identifier("sweep", request->sweep());
        NewJob job{spec.name,
                   team,
                   spec.device,
                   request->spec_yaml(),
                   request->priority(),
                   max_attempts,
                   pipeline_total_steps(spec),
                   spec.workers,
                   spec.min_workers,
                   request->sweep()};
        *response = store_.submit(job, quotas_.for_team(team).max_active_jobs);
        target = response->id();
        spdlog::info("job {} submitted by team {}: {} on {}", response->id(), team, spec.name,
                     spec.device);
      });
}

grpc::Status SearchServiceImpl::GetJob(grpc::ServerContext* context,
                                       const v1::GetJobRequest* request, v1::Job* response) {
  return authority_.read("GetJob", context, Action::kReadJobs, [&](const auth::Identity& caller) {
    require_id(request->id());
    *response = store_.job(request->id());
    auth::require_visible(caller, *response);
  });
}

grpc::Status SearchServiceImpl::ListJobs(grpc::ServerContext* context,
                                         const v1::ListJobsRequest* request,
                                         v1::ListJobsResponse* response) {
  return authority_.read("ListJobs", context, Action::kReadJobs, [&](const auth::Identity& caller) {
    const int page_size = request->page_size() == 0 ? 100 : request->page_size();
    if (page_size < 1 || page_size > 1000) {
      throw std::invalid_argument("page_size: must be in 1..1000");
    }
    if (!v1::JobState_IsValid(request->state())) {
      throw std::invalid_argument("state: unknown job state " + std::to_string(request->state()));
    }
    if (!request->sweep().empty()) require_identifier("sweep", request->sweep());
    auto listed = store_.list(request->state(), auth::listing_team(caller, request->team()),
                              request->sweep(), page_size, request->page_token());
    for (auto& job : listed.jobs) *response->add_jobs() = std::move(job);
    response->set_next_page_token(listed.next_page_token);
  });
}

grpc::Status SearchServiceImpl::CancelJob(grpc::ServerContext* context,
                                          const v1::CancelJobRequest* request, v1::Job* response) {
  return authority_.write("CancelJob", context, Action::kCancelJob,
                          [&](const auth::Identity& caller, std::string& target) {
                            require_id(request->id());
                            target = request->id().substr(0, 64);
                            auth::require_visible(caller, store_.job(request->id()));
                            *response = store_.cancel(request->id());
                            spdlog::info("job {} cancelled", request->id());
                          });
}

grpc::Status SearchServiceImpl::WatchJob(grpc::ServerContext* context,
                                         const v1::WatchJobRequest* request,
                                         grpc::ServerWriter<v1::JobEvent>* writer) {
  return authority_.read("WatchJob", context, Action::kReadJobs, [&](const auth::Identity& caller) {
    require_id(request->id());
    struct Slot {
      std::atomic<int>& count;
      ~Slot() { --count; }
    } slot{watches_};
    if (++watches_ > kMaxWatchStreams) {
      throw RpcError(grpc::StatusCode::RESOURCE_EXHAUSTED,
                     "WatchJob: " + std::to_string(kMaxWatchStreams) +
                         " watches are open; poll GetJob or try again later");
    }
    uint64_t version = store_.version();
    v1::JobEvent event;
    event.set_kind(v1::JobEvent::SNAPSHOT);
    *event.mutable_job() = store_.job(request->id());
    auth::require_visible(caller, event.job());
    if (!writer->Write(event)) return;
    v1::Job last = event.job();
    while (!is_terminal(last.state()) && !context->IsCancelled()) {
      version = store_.wait_for_change(version, kWatchPollMs);
      auto now = store_.job(request->id());
      if (same_view(now, last)) continue;
      event.set_kind(change_between(last, now));
      *event.mutable_job() = now;
      if (!writer->Write(event)) return;
      last = std::move(now);
    }
  });
}

}  // namespace ern::server
