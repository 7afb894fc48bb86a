// ern-devicefarm as a separate process on loopback: the real binary, a real SQLite table.

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <limits>
#include <mutex>
#include <thread>

#include "common/grpc_server.h"
#include "common/sqlite.h"
#include "devicefarm/latency_client.h"
#include "ern/v1/latency.grpc.pb.h"
#include "tests/test_support.h"

namespace ern {
namespace {

namespace fs = std::filesystem;

// A farm with two local devices and one lookup-table device, with quick measurement settings.
class DeviceFarmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(dir_ / "table.csv")
        << "alternative,channels,height,width,median_ms,p10_ms,p90_ms,runs\n"
           "naf,16,64,64,4.5,4.0,5.0,30\n"
           "skip,16,64,64,0.01,0.01,0.02,30\n";
    std::ofstream(dir_ / "farm.yaml")
        << "measurement: {warmup_runs: 5, min_runs: 15, max_runs: 60, budget_seconds: 1.5}\n"
           "devices:\n"
           "  - {id: cpu-1t, backend: local-cpu, threads: 1}\n"
           "  - {id: cpu-2t, backend: local-cpu, threads: 2}\n"
           "  - {id: phone, backend: table, table: table.csv, description: from a file}\n";
    start();
  }

  void start() {
    farm_ = std::make_unique<test::ServerProcess>(
        (test::bin_dir() / "ern-devicefarm").string(),
        std::vector<std::string>{"--config", (dir_ / "farm.yaml").string(), "--listen",
                                 "127.0.0.1:0", "--data", (dir_ / "state").string()},
        dir_ / "farm.log");
    stub_ = ern::v1::LatencyService::NewStub(
        grpc::CreateChannel(farm_->address(), grpc::InsecureChannelCredentials()));
  }

  grpc::Status profile(const std::string& device, const std::vector<ern::v1::BlockSpec>& specs,
                       ern::v1::ProfileBlocksResponse* response) {
    ern::v1::ProfileBlocksRequest request;
    request.set_device_id(device);
    for (const auto& spec : specs) *request.add_specs() = spec;
    grpc::ClientContext context;
    return stub_->ProfileBlocks(&context, request, response);
  }

  static ern::v1::BlockSpec spec(const std::string& alternative, int channels, int size) {
    ern::v1::BlockSpec out;
    out.set_alternative(alternative);
    out.set_channels(channels);
    out.set_height(size);
    out.set_width(size);
    return out;
  }

  test::TempDir dir_;
  std::unique_ptr<test::ServerProcess> farm_;
  std::unique_ptr<ern::v1::LatencyService::Stub> stub_;
};

TEST_F(DeviceFarmTest, ListsItsDevicesAndAnswersHealthChecks) {
  ern::v1::ListDevicesResponse devices;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->ListDevices(&context, {}, &devices).ok());
  ASSERT_EQ(devices.devices_size(), 3);
  EXPECT_EQ(devices.devices(1).id(), "cpu-2t");
  EXPECT_EQ(devices.devices(1).threads(), 2);
  EXPECT_EQ(devices.devices(2).backend(), "table");

  auto channel = grpc::CreateChannel(farm_->address(), grpc::InsecureChannelCredentials());
  grpc::ByteBuffer request_buffer, response_buffer;
  // grpc.health.v1.Health/Check with an empty request: status SERVING (field 1 = 1).
  grpc::GenericStub generic(channel);
  grpc::ClientContext health_context;
  grpc::Slice empty("", 0);
  request_buffer = grpc::ByteBuffer(&empty, 1);
  grpc::Status status;
  bool done = false;
  std::mutex mutex;
  std::condition_variable finished;
  generic.UnaryCall(&health_context, "/grpc.health.v1.Health/Check", grpc::StubOptions(),
                    &request_buffer, &response_buffer, [&](grpc::Status s) {
                      std::lock_guard lock(mutex);
                      status = s;
                      done = true;
                      finished.notify_one();
                    });
  std::unique_lock lock(mutex);
  finished.wait(lock, [&] { return done; });
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response_buffer.Dump(&slices).ok());
  std::string bytes;
  for (const auto& slice : slices)
    bytes += std::string(reinterpret_cast<const char*>(slice.begin()), slice.size());
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));
}

int thread_count(int pid) {
  const auto tasks = fs::directory_iterator("/proc/" + std::to_string(pid) + "/task");
  return static_cast<int>(std::distance(fs::begin(tasks), fs::end(tasks)));
}

// Reflection needs no token, and each of its streams holds a server thread for as long as the
// client keeps it open: 300 streams once took 300 threads. The server's thread bound holds them
// back; beyond it they get RESOURCE_EXHAUSTED, and the server answers again once they end.
TEST_F(DeviceFarmTest, StreamsWithoutATokenTakeNoMoreThanTheServersThreadBound) {
  const int bound = ServerLimits{}.waiting_calls + kThreadsBeyondWaitingCalls;
  const int streams_opened = bound + 30;
  const int threads_before = thread_count(farm_->pid());
  grpc::GenericStub generic(
      grpc::CreateChannel(farm_->address(), grpc::InsecureChannelCredentials()));
  grpc::CompletionQueue queue;
  const auto wait_for = [&queue](void* expected) {
    void* tag = nullptr;
    bool ok = false;
    while (queue.Next(&tag, &ok) && tag != expected) {
    }
  };
  struct Stream {
    grpc::ClientContext context;
    std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call;
    grpc::Status status;
  };
  std::vector<Stream> streams(streams_opened);
  for (auto& stream : streams) {
    stream.call = generic.PrepareCall(
        &stream.context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &queue);
    stream.call->StartCall(&stream.context);
    wait_for(&stream.context);
    grpc::Slice list_services("\x3a\x00", 2);  // ServerReflectionRequest{list_services: ""}
    stream.call->Write(grpc::ByteBuffer(&list_services, 1), &stream.call);
    wait_for(&stream.call);
  }
  for (auto& stream : streams) stream.call->Finish(&stream.status, &stream.status);
  // The refused streams end at once; the others stay open until cancelled.
  int refused = 0;
  void* tag = nullptr;
  bool ok = false;
  const auto soon = [] { return std::chrono::system_clock::now() + std::chrono::seconds(3); };
  while (queue.AsyncNext(&tag, &ok, soon()) == grpc::CompletionQueue::GOT_EVENT) {
    const auto* status = static_cast<grpc::Status*>(tag);
    if (status->error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) ++refused;
  }
  EXPECT_LE(thread_count(farm_->pid()) - threads_before, bound);
  EXPECT_GE(refused, streams_opened - bound);

  for (auto& stream : streams) stream.context.TryCancel();
  queue.Shutdown();
  while (queue.Next(&tag, &ok)) {
  }
  grpc::Status listed;
  for (int attempt = 0; attempt < 50; ++attempt) {
    ern::v1::ListDevicesResponse devices;
    grpc::ClientContext context;
    listed = stub_->ListDevices(&context, {}, &devices);
    if (listed.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(listed.ok()) << listed.error_message();
}

TEST_F(DeviceFarmTest, MeasuresEachSpecOncePerDeviceAcrossRestarts) {
  ern::v1::ProfileBlocksResponse first, second, third;
  const std::vector<ern::v1::BlockSpec> specs = {spec("naf", 16, 128), spec("naf_lite", 16, 128),
                                                 spec("skip", 16, 128)};
  ASSERT_TRUE(profile("cpu-1t", specs, &first).ok());
  ASSERT_EQ(first.results_size(), 3);
  for (const auto& result : first.results()) {
    EXPECT_FALSE(result.cached());
    EXPECT_GT(result.stats().median_ms(), 0.0);
    EXPECT_GE(result.stats().runs(), 9);
    EXPECT_LE(result.stats().p10_ms(), result.stats().median_ms());
    EXPECT_LE(result.stats().median_ms(), result.stats().p90_ms());
  }
  // Any block costs more than skipping it. (naf vs naf_lite is too close on a desktop CPU at this
  // size to order reliably: there, LayerNorm and channel attention are cheap next to the convs.)
  EXPECT_GT(first.results(0).stats().median_ms(), 5 * first.results(2).stats().median_ms());
  EXPECT_GT(first.results(1).stats().median_ms(), 5 * first.results(2).stats().median_ms());

  ASSERT_TRUE(profile("cpu-1t", specs, &second).ok());
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(second.results(i).cached());
    EXPECT_DOUBLE_EQ(second.results(i).stats().median_ms(), first.results(i).stats().median_ms());
  }
  ASSERT_EQ(farm_->stop(), 0) << farm_->log();
  start();
  ASSERT_TRUE(profile("cpu-1t", specs, &third).ok());
  EXPECT_TRUE(third.results(0).cached()) << "the table survives a restart";
  EXPECT_DOUBLE_EQ(third.results(0).stats().median_ms(), first.results(0).stats().median_ms());
  ern::v1::ProfileBlocksResponse other_device;
  ASSERT_TRUE(profile("cpu-2t", {spec("naf", 16, 128)}, &other_device).ok());
  EXPECT_FALSE(other_device.results(0).cached()) << "keyed by device";
}

// A local-cpu row stands for the host that measured it: a table carried to another machine (or
// written before rows named their host) is measured again there, not served.
TEST_F(DeviceFarmTest, RowsMeasuredOnAnotherHostAreMeasuredAgain) {
  ASSERT_EQ(farm_->stop(), 0) << farm_->log();
  fs::remove_all(dir_ / "state");
  {
    ern::SqliteDatabase legacy(
        dir_ / "state" / "latency.sqlite",
        "CREATE TABLE block_latency (device TEXT NOT NULL, alternative TEXT NOT NULL, channels "
        "INTEGER NOT NULL, height INTEGER NOT NULL, width INTEGER NOT NULL, median_ms REAL NOT "
        "NULL, p10_ms REAL NOT NULL, p90_ms REAL NOT NULL, runs INTEGER NOT NULL, measured_at TEXT "
        "NOT NULL DEFAULT '', PRIMARY KEY (device, alternative, channels, height, width));"
        "INSERT INTO block_latency VALUES ('cpu-1t', 'naf', 16, 64, 64, 999, 999, 999, 9, '');");
  }
  start();
  const auto measure = [&] {
    ern::v1::ProfileBlocksResponse response;
    EXPECT_TRUE(profile("cpu-1t", {spec("naf", 16, 64)}, &response).ok());
    return response.results(0);
  };
  const auto first = measure();
  EXPECT_FALSE(first.cached()) << "a row from before rows named their host";
  EXPECT_LT(first.stats().median_ms(), 999.0);
  EXPECT_TRUE(measure().cached()) << "this host's own row";

  ASSERT_EQ(farm_->stop(), 0) << farm_->log();
  {
    ern::SqliteDatabase table(dir_ / "state" / "latency.sqlite", "");
    table.exec("UPDATE block_latency SET host = 'another CPU; 64 cpus; avx2'");
  }
  start();
  EXPECT_FALSE(measure().cached()) << "a row from another host";
  EXPECT_TRUE(measure().cached());
}

TEST_F(DeviceFarmTest, ConcurrentRequestsForANewSpecMeasureItOnce) {
  const std::vector<ern::v1::BlockSpec> specs = {spec("naf_noca", 24, 96)};
  ern::v1::ProfileBlocksResponse responses[3];
  grpc::Status statuses[3];
  std::vector<std::thread> clients;
  for (int i = 0; i < 3; ++i) {
    clients.emplace_back([&, i] { statuses[i] = profile("cpu-1t", specs, &responses[i]); });
  }
  for (auto& client : clients) client.join();
  int measured = 0;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(statuses[i].ok()) << statuses[i].error_message();
    measured += responses[i].results(0).cached() ? 0 : 1;
    EXPECT_DOUBLE_EQ(responses[i].results(0).stats().median_ms(),
                     responses[0].results(0).stats().median_ms());
  }
  EXPECT_EQ(measured, 1) << "the others waited and were served the one measurement";
}

TEST_F(DeviceFarmTest, BadRequestsGetCodesThatNameTheField) {
  ern::v1::ProfileBlocksResponse response;
  auto status = profile("cpu-1t", {spec("naf_turbo", 16, 64)}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("naf_turbo"), std::string::npos) << status.error_message();
  status = profile("cpu-1t", {spec("naf", 16, 64), spec("naf", 0, 64)}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("specs[1]: channels"), std::string::npos)
      << status.error_message();
  status = profile("tpu", {spec("naf", 16, 64)}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(status.error_message().find("device_id"), std::string::npos) << status.error_message();
  status = profile("cpu-1t", {}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  ern::v1::ProfileNetworkRequest request;
  request.set_device_id("cpu-1t");
  request.set_architecture_json("{\"width\": 15}");
  request.set_height(64);
  request.set_width(64);
  ern::v1::ProfileNetworkResponse network;
  grpc::ClientContext context;
  status = stub_->ProfileNetwork(&context, request, &network);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("architecture_json"), std::string::npos)
      << status.error_message();
}

TEST_F(DeviceFarmTest, TableDeviceServesItsFile) {
  ern::v1::ProfileBlocksResponse response;
  ASSERT_TRUE(profile("phone", {spec("naf", 16, 64), spec("skip", 16, 64)}, &response).ok());
  EXPECT_DOUBLE_EQ(response.results(0).stats().median_ms(), 4.5);
  EXPECT_DOUBLE_EQ(response.results(1).stats().p90_ms(), 0.02);
  auto status = profile("phone", {spec("naf_lite", 16, 64)}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  farm::LatencyClient client(farm_->address());
  NafnetArchitecture tiny{3, 8, {1}, 1, {1}, {}};
  try {
    client.network_latency("phone", tiny, 32, 32);
    FAIL() << "a table device measured a network";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("lookup table"), std::string::npos) << error.what();
  }
}

TEST_F(DeviceFarmTest, LookupTableRanksNetworksAsWholeNetworkMeasurementsDo) {
  farm::LatencyClient client(farm_->address());
  const NafnetArchitecture skeleton{3, 16, {1, 1}, 1, {1, 1}, {}};
  const int size = 192;
  using A = BlockAlternative;
  // Every block holds about the same MACs here (channels double as the side halves); from one
  // genotype to the next at least a whole block's work goes, so the order is not within noise.
  const std::vector<std::vector<A>> genotypes = {
      {A::kNaf, A::kNaf, A::kNaf, A::kNaf},
      {A::kSkip, A::kNaf, A::kSkip, A::kNaf},
      {A::kSkip, A::kSkip, A::kSkip, A::kNafLite},
      {A::kSkip, A::kSkip, A::kSkip, A::kSkip},
  };
  std::vector<double> predicted, measured;
  std::vector<NafnetArchitecture> networks;
  for (const auto& genotype : genotypes) {
    auto architecture = skeleton;
    architecture.genotype = genotype;
    networks.push_back(architecture);
    std::vector<BlockQuery> queries;
    const auto blocks = architecture.searchable_blocks();
    for (size_t b = 0; b < blocks.size(); ++b) {
      queries.push_back({genotype[b], blocks[b].channels, size / blocks[b].downscale,
                         size / blocks[b].downscale});
    }
    double total = 0;
    for (double ms : client.block_latencies_ms("cpu-1t", queries)) total += ms;
    predicted.push_back(total);
  }
  // Each network measured in three interleaved rounds, its fastest kept: a neighbour's burst on a
  // shared machine slows one measurement window, not all three.
  measured.assign(networks.size(), std::numeric_limits<double>::infinity());
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < networks.size(); ++i) {
      const auto network = client.network_latency("cpu-1t", networks[i], size, size);
      EXPECT_GT(network.peak_memory_bytes, 0);
      measured[i] = std::min(measured[i], network.median_ms);
    }
  }
  for (size_t i = 0; i < networks.size(); ++i) {
    std::printf("genotype %zu: LUT %.3f ms, network %.3f ms\n", i, predicted[i], measured[i]);
  }
  for (size_t i = 1; i < genotypes.size(); ++i) {
    EXPECT_LT(predicted[i], predicted[i - 1]) << "genotype " << i;
    EXPECT_LT(measured[i], measured[i - 1])
        << "genotype " << i << ": the network measurement disagrees";
  }
}

}  // namespace
}  // namespace ern
