// Operators' view, end to end: the real coordinator, worker and device farm serve /metrics that
// promtool accepts; a real Prometheus started with deploy/'s configuration scrapes them while the
// coordinator serves Denoise calls and answers PromQL for the request rate and p95 latency; every
// metric the dashboards and alert rules use is in a live scrape.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "common/image_io.h"
#include "ern/v1/denoise.grpc.pb.h"
#include "ern/v1/search.grpc.pb.h"
#include "tests/test_support.h"

namespace ern {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Metric names with a sample in a scrape (histograms also under their base name).
std::set<std::string> sampled_names(const std::string& scrape) {
  std::set<std::string> names;
  std::istringstream lines(scrape);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    const std::string name = line.substr(0, line.find_first_of("{ "));
    names.insert(name);
    for (const std::string suffix : {"_bucket", "_sum", "_count"}) {
      if (name.size() > suffix.size() &&
          name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
        names.insert(name.substr(0, name.size() - suffix.size()));
      }
    }
  }
  return names;
}

// Names of ERN and process metrics an expression refers to.
std::set<std::string> referenced_names(const std::string& expression) {
  static const std::regex metric(R"(\b(ern_[a-z0-9_]+|process_[a-z0-9_]+)\b)");
  std::set<std::string> names;
  for (std::sregex_iterator it(expression.begin(), expression.end(), metric), end; it != end;
       ++it) {
    names.insert((*it)[1]);
  }
  return names;
}

std::string url_encoded(const std::string& text) {
  std::string encoded;
  char hex[4];
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      encoded += static_cast<char>(c);
    } else {
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      encoded += hex;
    }
  }
  return encoded;
}

class ObservabilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    farm_ = test::start_quick_devicefarm(dir_.path());
    coordinator_ = test::start_coordinator(dir_.path(), {"--heartbeat-ms", "300", "--lease-ms",
                                                         "3000", "--devicefarm", farm_->address()});
    const auto token = test::admin_token(dir_ / "coordinator");
    setenv("ERN_TOKEN", token.c_str(), 1);  // for ernctl
    worker_ = test::start_test_worker(dir_.path(), coordinator_->address(), farm_->address(), "w1");
    channel_ = test::channel_with_token(coordinator_->address(), token);

    const auto ernctl = (test::bin_dir() / "ernctl").string();
    const auto model_dir = dir_ / "tiny";
    const auto made = test::run({ernctl, "model", "init", "--width", "8", "--enc", "1,1",
                                 "--middle", "1", "--dec", "1,1", "-o", model_dir.string()});
    ASSERT_EQ(made.exit_code, 0) << made.output;
    // Named after its directory, also when the path ends in a slash.
    const auto imported = test::run({ernctl, "models", "import", model_dir.string() + "/",
                                     "--server", coordinator_->address()});
    ASSERT_EQ(imported.exit_code, 0) << imported.output;
    EXPECT_NE(imported.output.find("imported tiny as"), std::string::npos) << imported.output;

    // A serving replica of that registry, ready once it holds the default model.
    std::ofstream(dir_ / "serve.token")
        << test::create_token(coordinator_->address(), token, "", "serve") << "\n";
    serve_ = std::make_unique<test::ServerProcess>(
        (test::bin_dir() / "ern-serve").string(),
        std::vector<std::string>{"--registry", coordinator_->address(), "--token-file",
                                 (dir_ / "serve.token").string(), "--listen", "127.0.0.1:0",
                                 "--data", (dir_ / "serve").string()},
        dir_ / "serve.log");
    const auto ready_by = std::chrono::steady_clock::now() + 60s;
    while (test::http_get(serve_->metrics_address(), "/readyz", 2s).status != 200) {
      ASSERT_LT(std::chrono::steady_clock::now(), ready_by) << serve_->log();
      std::this_thread::sleep_for(100ms);
    }
  }

  std::vector<test::ServerProcess*> processes() {
    return {coordinator_.get(), worker_.get(), farm_.get(), serve_.get()};
  }

  // `count` Denoise calls from two threads; every fifth one is a bad image.
  void denoise_load(int count) {
    auto stub = v1::DenoiseService::NewStub(channel_);
    cv::Mat image(48, 48, CV_8UC3);
    cv::randu(image, 0, 255);
    v1::DenoiseRequest good;
    good.set_image(encode_image(image, "png"));
    v1::DenoiseRequest bad;
    bad.set_image("not an image");
    std::atomic<int> next{0};
    const auto client = [&] {
      for (int i = next++; i < count; i = next++) {
        grpc::ClientContext context;
        v1::DenoiseResponse response;
        const auto status = stub->Denoise(&context, i % 5 == 4 ? bad : good, &response);
        EXPECT_EQ(status.ok(), i % 5 != 4) << status.error_message();
      }
    };
    std::thread other(client);
    client();
    other.join();
  }

  test::TempDir dir_;
  std::unique_ptr<test::ServerProcess> farm_, coordinator_, worker_, serve_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(ObservabilityTest, EveryProcessServesHealthReadinessAndMetricsThatPromtoolAccepts) {
  denoise_load(10);
  for (auto* process : processes()) {
    const auto address = process->metrics_address();
    EXPECT_EQ(test::http_get(address, "/healthz").status, 200) << address;
    EXPECT_EQ(test::http_get(address, "/readyz").status, 200) << address;
    const auto scrape = test::http_get(address, "/metrics");
    ASSERT_EQ(scrape.status, 200) << address;
    EXPECT_NE(scrape.body.find("process_resident_memory_bytes"), std::string::npos);
    const auto file = dir_ / "scrape.txt";
    std::ofstream(file) << scrape.body;
    const auto check = test::run({"/bin/sh", "-c", "promtool check metrics < " + file.string()});
    EXPECT_EQ(check.exit_code, 0) << address << ": " << check.output;
  }
  const auto serving = test::http_get(coordinator_->metrics_address(), "/metrics").body;
  EXPECT_NE(serving.find("ern_denoise_requests_total{code=\"INVALID_ARGUMENT\",model=\"none\"} 2"),
            std::string::npos)
      << serving;
  EXPECT_NE(serving.find("ern_denoise_requests_total{code=\"OK\",model=\"model-000001\"} 8"),
            std::string::npos)
      << serving;
  EXPECT_NE(serving.find("ern_coordinator_workers{state=\"live\"} 1"), std::string::npos);

  // A stopped coordinator's endpoints go with it; a worker told to stop while its coordinator is
  // away stops at once (not after its 10-minute retry budget).
  ASSERT_EQ(coordinator_->stop(), 0);
  EXPECT_EQ(test::http_get(coordinator_->metrics_address(), "/healthz").status, 0) << "gone";
  std::this_thread::sleep_for(500ms);  // the worker notices and starts retrying
  const auto stopping = std::chrono::steady_clock::now();
  EXPECT_EQ(worker_->stop(), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, 10s);
}

TEST_F(ObservabilityTest, PrometheusWithTheDeployConfigScrapesAndAnswersRateAndLatency) {
  // deploy/prometheus's own files, with this test's targets and a 1 s interval.
  YAML::Node config =
      YAML::LoadFile((test::source_dir() / "deploy/prometheus/prometheus.yml").string());
  config["global"]["scrape_interval"] = "1s";
  config["global"]["evaluation_interval"] = "1s";
  const std::map<std::string, test::ServerProcess*> targets{{"ern-coordinator", coordinator_.get()},
                                                            {"ern-worker", worker_.get()},
                                                            {"ern-devicefarm", farm_.get()},
                                                            {"ern-serve", serve_.get()}};
  std::set<std::string> jobs;
  for (auto scrape : config["scrape_configs"]) {
    const auto job = scrape["job_name"].as<std::string>();
    ASSERT_EQ(targets.count(job), 1u) << "a scrape job this test does not know: " << job;
    scrape["static_configs"][0]["targets"] =
        std::vector<std::string>{targets.at(job)->metrics_address()};
    jobs.insert(job);
  }
  EXPECT_EQ(jobs.size(), targets.size());
  std::ofstream(dir_ / "prometheus.yml") << YAML::Dump(config);
  fs::copy_file(test::source_dir() / "deploy/prometheus/rules.yml", dir_ / "rules.yml");

  const std::string web = "127.0.0.1:" + std::to_string(test::free_loopback_port());
  test::ServerProcess prometheus(
      "/usr/bin/prometheus",
      {"--config.file=" + (dir_ / "prometheus.yml").string(),
       "--storage.tsdb.path=" + (dir_ / "tsdb").string(), "--web.listen-address=" + web},
      dir_ / "prometheus.log", "Server is ready to receive web requests");

  const auto query = [&](const std::string& promql) {
    const auto answer = test::http_get(web, "/api/v1/query?query=" + url_encoded(promql));
    EXPECT_EQ(answer.status, 200) << answer.body;
    const auto json = nlohmann::json::parse(answer.body);
    EXPECT_EQ(json["status"], "success") << answer.body;
    return json["data"]["result"];
  };
  // Load for a few scrape intervals.
  const auto until = std::chrono::steady_clock::now() + 8s;
  while (std::chrono::steady_clock::now() < until) denoise_load(10);

  const auto up = query("up");
  EXPECT_EQ(up.size(), targets.size()) << up;
  for (const auto& target : up) EXPECT_EQ(target["value"][1], "1") << target;
  const auto rate = query("sum(rate(ern_denoise_requests_total{code=\"OK\"}[5s]))");
  ASSERT_EQ(rate.size(), 1u) << rate;
  EXPECT_GT(std::stod(rate[0]["value"][1].get<std::string>()), 0.5) << "requests/s";
  const auto p95 = query(
      "histogram_quantile(0.95, sum by (le) "
      "(rate(ern_denoise_request_duration_seconds_bucket[5s])))");
  ASSERT_EQ(p95.size(), 1u) << p95;
  const double p95_seconds = std::stod(p95[0]["value"][1].get<std::string>());
  EXPECT_GT(p95_seconds, 0.0);
  EXPECT_LT(p95_seconds, 60.0);
  // The rules loaded and evaluate (none of them fires on a healthy system).
  const auto rules = nlohmann::json::parse(test::http_get(web, "/api/v1/rules").body);
  size_t alerting = 0;
  for (const auto& group : rules["data"]["groups"]) {
    for (const auto& rule : group["rules"]) {
      EXPECT_EQ(rule["health"], "ok") << rule;
      alerting += rule["type"] == "alerting";
    }
  }
  EXPECT_GE(alerting, 7u);
}

TEST_F(ObservabilityTest, EveryMetricOfTheDashboardsAndAlertsIsInALiveScrape) {
  std::set<std::string> used;
  for (const auto& file :
       fs::directory_iterator(test::source_dir() / "deploy/grafana/dashboards")) {
    const auto dashboard = nlohmann::json::parse(std::ifstream(file.path()));
    ASSERT_FALSE(dashboard["panels"].empty()) << file.path();
    for (const auto& panel : dashboard["panels"]) {
      for (const auto& target : panel["targets"]) {
        const auto names = referenced_names(target["expr"].get<std::string>());
        EXPECT_FALSE(names.empty()) << file.path() << ": " << target["expr"];
        used.insert(names.begin(), names.end());
      }
    }
  }
  const auto rules = YAML::LoadFile((test::source_dir() / "deploy/prometheus/rules.yml").string());
  for (const auto& group : rules["groups"]) {
    for (const auto& rule : group["rules"]) {
      const auto names = referenced_names(rule["expr"].as<std::string>());
      used.insert(names.begin(), names.end());
    }
  }
  ASSERT_GT(used.size(), 20u);

  // Scrape every process while a search job runs to the end and Denoise is called: per-job gauges
  // exist only while the job runs, stage durations once a stage ended.
  auto search = v1::SearchService::NewStub(channel_);
  v1::SubmitSearchJobRequest submit;
  submit.set_spec_yaml(test::tiny_search_spec(20));
  submit.set_team("vision");
  v1::Job job;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(search->SubmitSearchJob(&context, submit, &job).ok());
  }
  denoise_load(5);
  std::set<std::string> exposed;
  const auto scrape_all = [&] {
    for (auto* process : processes()) {
      const auto names = sampled_names(test::http_get(process->metrics_address(), "/metrics").body);
      exposed.insert(names.begin(), names.end());
    }
  };
  const auto deadline = std::chrono::steady_clock::now() + 300s;
  while (job.state() != v1::SUCCEEDED && job.state() != v1::FAILED &&
         std::chrono::steady_clock::now() < deadline) {
    scrape_all();
    std::this_thread::sleep_for(100ms);
    grpc::ClientContext context;
    v1::GetJobRequest get;
    get.set_id(job.id());
    ASSERT_TRUE(search->GetJob(&context, get, &job).ok());
  }
  ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.failure_reason();
  scrape_all();
  for (const auto& name : used) {
    EXPECT_EQ(exposed.count(name), 1u) << name << " is used by deploy/ but no process exposes it";
  }
}

}  // namespace
}  // namespace ern
