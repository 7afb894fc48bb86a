// The Prometheus exposition through prometheus-cpp: text format details, observation from many
// threads, and the HTTP endpoints, checked by promtool (the reference parser).
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "common/metrics.h"
#include "common/metrics_server.h"
#include "tests/test_support.h"

namespace ern::metrics {
namespace {

TEST(Prometheus, RendersCountersGaugesAndHistogramsInTheTextFormat) {
  Registry registry;
  auto& requests = registry.counter("ern_test_requests_total", "Requests.", {"model", "code"});
  requests.with({"a\"b\\c\nd", "OK"}).inc(2);
  registry.gauge("ern_test_queue_depth", "Queued images.").with().set(3.5);
  auto& latency = registry.histogram("ern_test_duration_seconds", "Latency.", {"model"}, {0.1, 1});
  auto& observed = latency.with({"m"});
  for (const double value : {0.05, 0.1, 0.5, 7.0}) observed.observe(value);

  const std::string text = registry.render();
  EXPECT_NE(text.find("# TYPE ern_test_requests_total counter\n"), std::string::npos);
  // prometheus-cpp writes a series' labels sorted by name.
  EXPECT_NE(text.find("ern_test_requests_total{code=\"OK\",model=\"a\\\"b\\\\c\\nd\"} 2\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("ern_test_queue_depth 3.5\n"), std::string::npos);
  // `le` is inclusive and the buckets cumulative.
  EXPECT_NE(text.find("ern_test_duration_seconds_bucket{model=\"m\",le=\"0.1\"} 2\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("ern_test_duration_seconds_bucket{model=\"m\",le=\"1\"} 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("ern_test_duration_seconds_bucket{model=\"m\",le=\"+Inf\"} 4\n"),
            std::string::npos);
  EXPECT_NE(text.find("ern_test_duration_seconds_count{model=\"m\"} 4\n"), std::string::npos);
  EXPECT_NE(text.find("ern_test_duration_seconds_sum{model=\"m\"} 7.65\n"), std::string::npos)
      << text;

  latency.remove({"m"});
  EXPECT_EQ(registry.render().find("model=\"m\""), std::string::npos) << "removed series shown";
  EXPECT_THROW(requests.with({"only one"}), std::invalid_argument);
  EXPECT_THROW(registry.gauge("ern_test_requests_total", "again"), std::invalid_argument);
  EXPECT_THROW(registry.counter("bad name", "x"), std::invalid_argument);
}

TEST(Prometheus, ObservationsFromManyThreadsAreAllCounted) {
  Registry registry;
  auto& counter = registry.counter("ern_test_events_total", "Events.").with();
  auto& histogram =
      registry.histogram("ern_test_sizes", "Sizes.", {}, power_of_two_buckets(8)).with();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100000; ++i) {
        counter.inc();
        histogram.observe(i % 8 + 1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(counter.value(), 400000);
  EXPECT_EQ(histogram.count(), 400000u);
  EXPECT_EQ(histogram.sum(), 4 * 12500 * 36.0);
}

TEST(Prometheus, ServesMetricsHealthAndReadinessThatPromtoolAccepts) {
  registry().counter("ern_test_scrapes_total", "Scrapes.").with().inc();
  std::string why_not = "warming up";
  auto server = start_metrics_server("test", "127.0.0.1:0", [&] { return why_not; });
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->address().rfind("127.0.0.1:", 0), 0u);

  EXPECT_EQ(test::http_get(server->address(), "/healthz").status, 200);
  const auto unready = test::http_get(server->address(), "/readyz");
  EXPECT_EQ(unready.status, 503);
  EXPECT_NE(unready.body.find("warming up"), std::string::npos);
  why_not.clear();
  EXPECT_EQ(test::http_get(server->address(), "/readyz").status, 200);

  const auto scrape = test::http_get(server->address(), "/metrics");
  ASSERT_EQ(scrape.status, 200);
  for (const char* name :
       {"ern_test_scrapes_total 1", "process_cpu_seconds_total", "process_resident_memory_bytes",
        "process_open_fds", "process_start_time_seconds"}) {
    EXPECT_NE(scrape.body.find(name), std::string::npos) << name;
  }
  test::TempDir dir("prometheus-test");
  std::ofstream(dir.path() / "scrape.txt") << scrape.body;
  const auto check = test::run(
      {"/bin/sh", "-c", "promtool check metrics < " + (dir.path() / "scrape.txt").string()});
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_EQ(test::http_get(server->address(), "/nothing").status, 404);
}

// M7: two connections that never finished their request used to take both of the port's threads,
// and /healthz then went unanswered for the request timeout: liveness probes restart such pods.
TEST(Prometheus, HealthAnswersWhileSlowClientsHoldConnections) {
  auto server = start_metrics_server("test", "127.0.0.1:0", [] { return std::string(); });
  ASSERT_NE(server, nullptr);
  std::vector<std::unique_ptr<test::StalledConnection>> stalled;
  for (int i = 0; i < 8; ++i) {
    stalled.push_back(
        std::make_unique<test::StalledConnection>(server->address(), "GET /metrics HTTP/1.1\r\n"));
  }
  for (const char* path : {"/healthz", "/readyz", "/metrics"}) {
    EXPECT_EQ(test::http_get(server->address(), path, std::chrono::seconds(2)).status, 200) << path;
  }
}

}  // namespace
}  // namespace ern::metrics
