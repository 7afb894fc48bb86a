// ernctl search sweep / search front: one job per latency weight as a sweep group, and the
// measured latency against PSNR of its finished jobs with the Pareto-optimal ones marked.

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "client/commands.h"
#include "client/model_lookup.h"
#include "client/search_pages.h"
#include "common/atomic_file.h"
#include "common/temp_dir.h"
#include "ern/v1/search.grpc.pb.h"
#include "model/search_spec.h"

namespace ern::cli {
namespace {

// "<spec name>-<UTC time>": a fresh group name for each sweep when none is given.
std::string default_sweep_name(const std::string& spec_name) {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", std::gmtime(&now));
  return spec_name.substr(0, 40) + "-" + stamp;
}

std::string with_lambda_latency(const std::string& spec_yaml, double lambda) {
  YAML::Node spec = YAML::Load(spec_yaml);
  spec["search"]["lambda_latency"] = lambda;
  YAML::Emitter out;
  out << spec;
  return std::string(out.c_str()) + "\n";
}

// One finished or unfinished member of a sweep, as `search front` shows it.
struct FrontPoint {
  v1::Job job;
  double lambda = 0;
  double latency_ms = -1;  // measured latency of the derived network; < 0 until SUCCEEDED
  double psnr_25 = -1;
  bool pareto = false;
};

std::vector<FrontPoint> sweep_points(const ServerConnection& server, const std::string& sweep) {
  auto jobs = v1::SearchService::NewStub(server.channel);
  std::vector<FrontPoint> points;
  v1::ListJobsRequest request;
  request.set_sweep(sweep);
  request.set_page_size(1000);
  do {
    v1::ListJobsResponse response;
    check_rpc(jobs->ListJobs(server.context().get(), request, &response), "ListJobs", server);
    for (const auto& job : response.jobs()) {
      FrontPoint point{job, parse_search_spec(job.spec_yaml()).lambda_latency};
      if (job.state() == v1::SUCCEEDED) {
        const auto report =
            nlohmann::json::parse(get_model(server, job.model()).report_json(), nullptr, false);
        const auto& derived =
            report.is_object() ? report.value("derived", nlohmann::json()) : nlohmann::json();
        if (derived.is_object() && derived.contains("psnr") && derived["psnr"].contains("25")) {
          point.latency_ms = derived.value("latency_ms", -1.0);
          point.psnr_25 = derived["psnr"]["25"].get<double>();
        }
      }
      points.push_back(point);
    }
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  if (points.empty()) throw RpcFailure(grpc::StatusCode::NOT_FOUND, "sweep " + sweep + ": no jobs");
  // Pareto-optimal: no other measured point is at least as fast and at least as good, and better
  // in one of the two.
  for (auto& point : points) {
    if (point.latency_ms < 0) continue;
    point.pareto = true;
    for (const auto& other : points) {
      if (other.latency_ms < 0 || &other == &point) continue;
      const bool no_worse = other.latency_ms <= point.latency_ms && other.psnr_25 >= point.psnr_25;
      const bool better = other.latency_ms < point.latency_ms || other.psnr_25 > point.psnr_25;
      if (no_worse && better) point.pareto = false;
    }
  }
  std::sort(points.begin(), points.end(),
            [](const FrontPoint& a, const FrontPoint& b) { return a.lambda < b.lambda; });
  return points;
}

nlohmann::json front_json(const std::string& sweep, const std::vector<FrontPoint>& points) {
  nlohmann::json jobs = nlohmann::json::array();
  for (const auto& point : points) {
    nlohmann::json job = {{"id", point.job.id()},
                          {"state", v1::JobState_Name(point.job.state())},
                          {"lambda_latency", point.lambda}};
    if (point.latency_ms >= 0) {
      job["latency_ms"] = point.latency_ms;
      job["psnr_25"] = point.psnr_25;
      job["pareto"] = point.pareto;
      job["model"] = point.job.model();
    }
    jobs.push_back(job);
  }
  return {{"sweep", sweep}, {"jobs", jobs}};
}

}  // namespace

int search_sweep(const Args& raw) {
  Arguments args(raw, with_connection_flags({"lambda-latency", "name", "team", "priority"}));
  args.expect_positionals(1,
                          "ernctl search sweep SPEC.yaml --lambda-latency 0,0.25,0.5,1,2 "
                          "[--name SWEEP] [--team T] [--priority 0..100]");
  const std::string spec_yaml = read_input_file(args.positional(0, "SPEC.yaml"));
  const auto lambdas = args.numbers_or("lambda-latency", {});
  if (lambdas.empty() || lambdas.size() > 32) {
    throw UsageError("--lambda-latency: give 1 to 32 comma-separated weights");
  }
  SearchSpec spec;
  try {
    spec = parse_search_spec(spec_yaml);
  } catch (const std::exception& error) {
    throw UsageError(args.positional(0, "SPEC.yaml") + ": " + error.what());
  }
  const std::string sweep = args.value_or("name", default_sweep_name(spec.name));
  const auto server = connect_to_server(args);
  auto stub = v1::SearchService::NewStub(server.channel);
  for (const double lambda : lambdas) {
    v1::SubmitSearchJobRequest request;
    request.set_spec_yaml(with_lambda_latency(spec_yaml, lambda));
    request.set_team(args.value_or("team", ""));
    request.set_priority(static_cast<int>(args.integer_or("priority", 0, 0, 100)));
    request.set_sweep(sweep);
    v1::Job job;
    check_rpc(stub->SubmitSearchJob(server.context().get(), request, &job), "SubmitSearchJob",
              server);
    std::fprintf(stderr, "submitted %s (lambda_latency %g) in sweep %s\n", job.id().c_str(), lambda,
                 sweep.c_str());
  }
  std::printf("%s\n", sweep.c_str());  // last line: the sweep, for scripts
  return 0;
}

int search_front(const Args& raw) {
  Arguments args(raw, with_connection_flags({"o"}), {"json"});
  args.expect_positionals(1, "ernctl search front SWEEP [--json] [-o front.html]");
  const std::string sweep = args.positional(0, "SWEEP");
  const auto points = sweep_points(connect_to_server(args), sweep);
  const auto json = front_json(sweep, points);
  if (args.has("o")) {
    TempDir temporary("ern-front");
    write_file_atomically(temporary / "front.json", json.dump());
    draw_search_page("front", temporary / "front.json", args.required("o"));
  }
  if (args.has("json")) {
    std::printf("%s\n", json.dump(2).c_str());
    return 0;
  }
  std::printf("%-12s %-10s %8s %12s %12s %s\n", "JOB", "STATE", "LAMBDA", "LATENCY_MS", "PSNR_25",
              "PARETO");
  for (const auto& point : points) {
    if (point.latency_ms < 0) {
      std::printf("%-12s %-10s %8g %12s %12s\n", point.job.id().c_str(),
                  v1::JobState_Name(point.job.state()).c_str(), point.lambda, "-", "-");
    } else {
      std::printf("%-12s %-10s %8g %12.3f %12.3f %s\n", point.job.id().c_str(),
                  v1::JobState_Name(point.job.state()).c_str(), point.lambda, point.latency_ms,
                  point.psnr_25, point.pareto ? "*" : "");
    }
  }
  return 0;
}

}  // namespace ern::cli
