// ernctl search submit/list/get/watch/cancel: search jobs on the coordinator.

#include <cstdio>

#include "client/commands.h"
#include "client/progress_bar.h"
#include "client/server_connection.h"
#include "ern/v1/search.grpc.pb.h"

namespace ern::cli {
namespace {

void print_job_line(const v1::Job& job) {
  std::printf("%-12s %-10s %-10s %-12s %-9s %7lld/%-7lld %-8s %s\n", job.id().c_str(),
              v1::JobState_Name(job.state()).c_str(), job.team().c_str(), job.name().c_str(),
              job.stage().c_str(), static_cast<long long>(job.step()),
              static_cast<long long>(job.total_steps()), job.device().c_str(),
              job.model().empty() ? job.failure_reason().c_str() : job.model().c_str());
}

// Follows a job to its end with a progress bar; returns 0 when it SUCCEEDED.
int watch_job(const ServerConnection& server, const std::string& id) {
  auto stub = v1::SearchService::NewStub(server.channel);
  auto context = server.context(0);
  v1::WatchJobRequest request;
  request.set_id(id);
  auto reader = stub->WatchJob(context.get(), request);
  v1::JobEvent event;
  v1::Job job;
  std::unique_ptr<ProgressBar> bar;
  std::string state;
  while (reader->Read(&event)) {
    job = event.job();
    const std::string now = v1::JobState_Name(job.state());
    if (now != state) {
      if (bar) bar->finish();
      bar.reset();
      state = now;
      std::fprintf(stderr, "== %s %s%s\n", job.id().c_str(), now.c_str(),
                   job.worker().empty() ? "" : (" on " + job.worker()).c_str());
    }
    if (job.state() != v1::RUNNING || job.stage().empty()) continue;
    if (!bar) bar = std::make_unique<ProgressBar>(job.total_steps());
    char detail[200];
    if (!job.waiting_for().empty()) {
      std::snprintf(detail, sizeof(detail), "%-8s waiting for %s", job.stage().c_str(),
                    job.waiting_for().c_str());
      bar->update(job.step(), detail, -1);
      continue;
    }
    // Warm-up and fine-tune losses are reconstruction (PSNR) losses: -loss is the PSNR in dB.
    const bool reconstruction = job.stage() == "WARMUP" || job.stage() == "FINETUNE";
    std::snprintf(
        detail, sizeof(detail), "%-8s loss %.3f%s E[lat] %.3f ms entropy %.3f", job.stage().c_str(),
        job.loss(),
        reconstruction ? (" PSNR " + std::to_string(-job.loss()).substr(0, 5)).c_str() : "",
        job.expected_latency_ms(), job.normalized_entropy());
    bar->update(job.step(), detail, job.eta_seconds());
  }
  if (bar) bar->finish();
  check_rpc(reader->Finish(), "WatchJob", server);
  if (job.state() == v1::SUCCEEDED) {
    std::printf("%s SUCCEEDED: model %s\n", job.id().c_str(), job.model().c_str());
    return 0;
  }
  std::printf("%s %s%s\n", job.id().c_str(), v1::JobState_Name(job.state()).c_str(),
              job.failure_reason().empty() ? "" : (": " + job.failure_reason()).c_str());
  return 1;
}

}  // namespace

int search_submit(const Args& raw) {
  Arguments args(raw, with_connection_flags({"team", "priority", "max-attempts", "sweep"}),
                 {"watch", "json"});
  args.expect_positionals(1,
                          "ernctl search submit SPEC.yaml [--team T] [--priority 0..100] "
                          "[--sweep NAME] [--watch] [--json] [--server HOST:PORT]");
  const auto server = connect_to_server(args);
  v1::SubmitSearchJobRequest request;
  request.set_spec_yaml(read_input_file(args.positional(0, "SPEC.yaml")));
  request.set_team(args.value_or("team", ""));
  request.set_priority(static_cast<int>(args.integer_or("priority", 0, 0, 100)));
  request.set_max_attempts(static_cast<int>(args.integer_or("max-attempts", 3, 1, 100)));
  request.set_sweep(args.value_or("sweep", ""));
  v1::Job job;
  check_rpc(v1::SearchService::NewStub(server.channel)
                ->SubmitSearchJob(server.context().get(), request, &job),
            "SubmitSearchJob", server);
  if (args.has("json")) {
    std::printf("%s\n", job_json(job).dump(2).c_str());
  } else {
    std::fprintf(stderr, "submitted %s (%s on %s, team %s)\n", job.id().c_str(), job.name().c_str(),
                 job.device().c_str(), job.team().c_str());
  }
  const int status = args.has("watch") ? watch_job(server, job.id()) : 0;
  if (!args.has("json")) std::printf("%s\n", job.id().c_str());  // last line: the id, for scripts
  return status;
}

int search_list(const Args& raw) {
  Arguments args(raw, with_connection_flags({"state", "team", "limit", "sweep"}), {"json"});
  args.expect_positionals(
      0, "ernctl search list [--state S] [--team T] [--sweep NAME] [--limit N] [--json]");
  const auto server = connect_to_server(args);
  auto stub = v1::SearchService::NewStub(server.channel);
  v1::ListJobsRequest request;
  if (args.has("state")) request.set_state(parse_job_state(args.required("state"), "state"));
  request.set_team(args.value_or("team", ""));
  request.set_sweep(args.value_or("sweep", ""));
  long long remaining = args.integer_or("limit", 100, 1, 100000);
  nlohmann::json jobs = nlohmann::json::array();
  bool first_page = true;
  do {
    request.set_page_size(static_cast<int>(std::min<long long>(remaining, 1000)));
    v1::ListJobsResponse response;
    check_rpc(stub->ListJobs(server.context().get(), request, &response), "ListJobs", server);
    if (first_page && !args.has("json")) {  // nothing on stdout before a call has succeeded
      std::printf("%-12s %-10s %-10s %-12s %-9s %15s %-8s %s\n", "ID", "STATE", "TEAM", "NAME",
                  "STAGE", "STEP", "DEVICE", "MODEL/REASON");
    }
    first_page = false;
    for (const auto& job : response.jobs()) {
      if (args.has("json")) {
        jobs.push_back(job_json(job));
      } else {
        print_job_line(job);
      }
    }
    remaining -= response.jobs_size();
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty() && remaining > 0);
  if (args.has("json")) std::printf("%s\n", jobs.dump(2).c_str());
  return 0;
}

int search_get(const Args& raw) {
  Arguments args(raw, with_connection_flags({}), {"json"});
  args.expect_positionals(1, "ernctl search get JOB [--json]");
  const auto server = connect_to_server(args);
  v1::GetJobRequest request;
  request.set_id(args.positional(0, "JOB"));
  v1::Job job;
  check_rpc(
      v1::SearchService::NewStub(server.channel)->GetJob(server.context().get(), request, &job),
      "GetJob", server);
  if (args.has("json")) {
    std::printf("%s\n", job_json(job).dump(2).c_str());
    return 0;
  }
  auto json = job_json(job);
  for (const auto& [key, value] : json.items()) {
    std::printf("%-20s %s\n", key.c_str(),
                value.is_string() ? value.get<std::string>().c_str() : value.dump().c_str());
  }
  return 0;
}

int search_watch(const Args& raw) {
  Arguments args(raw, with_connection_flags({}));
  args.expect_positionals(1, "ernctl search watch JOB");
  return watch_job(connect_to_server(args), args.positional(0, "JOB"));
}

int search_cancel(const Args& raw) {
  Arguments args(raw, with_connection_flags({}));
  args.expect_positionals(1, "ernctl search cancel JOB");
  const auto server = connect_to_server(args);
  v1::CancelJobRequest request;
  request.set_id(args.positional(0, "JOB"));
  v1::Job job;
  check_rpc(
      v1::SearchService::NewStub(server.channel)->CancelJob(server.context().get(), request, &job),
      "CancelJob", server);
  std::printf("%s %s\n", job.id().c_str(), v1::JobState_Name(job.state()).c_str());
  return 0;
}

}  // namespace ern::cli
