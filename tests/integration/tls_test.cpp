// Transport security with real processes on loopback and certificates made by openssl: TLS on the
// coordinator and the device farm, clients that must trust the server's CA, mutual TLS where a
// server asks for client certificates, and plaintext refused beyond loopback.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <fstream>

#include "common/grpc_server.h"
#include "ern/v1/models.grpc.pb.h"
#include "tests/test_support.h"

namespace ern {
namespace {

namespace fs = std::filesystem;

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override { pki_ = test::make_test_pki(dir_ / "pki"); }

  std::unique_ptr<test::ServerProcess> start_coordinator(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {
        "--config",   test::coordinator_config_without_scoring(dir_.path()).string(),
        "--listen",   "127.0.0.1:0",
        "--data",     (dir_ / "coordinator").string(),
        "--tls-cert", pki_.server_cert.string(),
        "--tls-key",  pki_.server_key.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    // (The embedded device farm, when asked for, says "listening on" first.)
    return std::make_unique<test::ServerProcess>((test::bin_dir() / "ern-coordinator").string(),
                                                 args, dir_ / "coordinator.log",
                                                 "ern-coordinator listening on ");
  }

  SubprocessResult ernctl(std::vector<std::string> args) {
    args.insert(args.begin(), (test::bin_dir() / "ernctl").string());
    return test::run(args);
  }

  grpc::Status list_models(const std::string& address, const tls::ClientTls& tls) {
    auto stub = v1::ModelService::NewStub(
        test::channel_with_token(address, test::admin_token(dir_ / "coordinator"), tls));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::ListModelsResponse response;
    return stub->ListModels(&context, v1::ListModelsRequest(), &response);
  }

  test::TempDir dir_{"ern-tls-test"};
  test::TestPki pki_;
};

TEST_F(TlsTest, ClientsTrustingTheCaReachATlsCoordinatorAndOthersCannot) {
  auto coordinator = start_coordinator();
  EXPECT_TRUE(coordinator->wait_for_log("TLS on 127.0.0.1:0", std::chrono::seconds(1)));
  const std::string token = test::admin_token(dir_ / "coordinator");

  auto trusted = ernctl({"models", "list", "--server", coordinator->address(), "--token", token,
                         "--ca", pki_.ca.string()});
  EXPECT_EQ(trusted.exit_code, 0) << trusted.output;
  EXPECT_NE(trusted.output.find("DEFAULT"), std::string::npos) << trusted.output;

  EXPECT_TRUE(list_models(coordinator->address(), pki_.client()).ok());
  // Plaintext against a TLS port, and TLS that trusts another CA, never get through.
  EXPECT_EQ(list_models(coordinator->address(), {}).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(list_models(coordinator->address(), {pki_.rogue_ca.string(), "", ""}).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  auto plaintext = ernctl({"models", "list", "--server", coordinator->address(), "--token", token});
  EXPECT_NE(plaintext.exit_code, 0);
  EXPECT_NE(plaintext.output.find("UNAVAILABLE"), std::string::npos) << plaintext.output;

  // A CA file that is not one is a usage error, said before dialing.
  auto bad_ca = ernctl({"models", "list", "--server", coordinator->address(), "--token", token,
                        "--ca", pki_.server_key.string() + ".missing"});
  EXPECT_NE(bad_ca.exit_code, 0);
  EXPECT_NE(bad_ca.output.find("--ca: cannot read"), std::string::npos) << bad_ca.output;
}

TEST_F(TlsTest, PlaintextIsRefusedBeyondLoopbackUnlessTheOperatorInsists) {
  auto refused = test::run({(test::bin_dir() / "ern-coordinator").string(), "--listen", "0.0.0.0:0",
                            "--data", (dir_ / "refused").string(), "--metrics-listen", ""});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.output.find("refusing to listen in plaintext on 0.0.0.0:0"), std::string::npos)
      << refused.output;
  EXPECT_NE(refused.output.find("--insecure-plaintext"), std::string::npos) << refused.output;

  auto farm_refused =
      test::run({(test::bin_dir() / "ern-devicefarm").string(), "--config",
                 (test::source_dir() / "configs/devicefarm.yaml").string(), "--listen", "0.0.0.0:0",
                 "--data", (dir_ / "farm").string(), "--metrics-listen", ""});
  EXPECT_EQ(farm_refused.exit_code, 1);
  EXPECT_NE(farm_refused.output.find("refusing to listen in plaintext"), std::string::npos)
      << farm_refused.output;

  test::ServerProcess insisted(
      (test::bin_dir() / "ern-coordinator").string(),
      {"--config", test::coordinator_config_without_scoring(dir_.path()).string(), "--listen",
       "0.0.0.0:0", "--data", (dir_ / "coordinator").string(), "--insecure-plaintext"},
      dir_ / "insecure.log");
  EXPECT_NE(insisted.log().find("INSECURE: listening in plaintext on 0.0.0.0:0"),
            std::string::npos);
  EXPECT_TRUE(list_models(loopback_address(insisted.address()), {}).ok());

  // A TLS key without its certificate is a configuration error that names the field.
  auto half = test::run({(test::bin_dir() / "ern-coordinator").string(), "--listen", "127.0.0.1:0",
                         "--data", (dir_ / "half").string(), "--tls-key", pki_.server_key.string(),
                         "--metrics-listen", ""});
  EXPECT_EQ(half.exit_code, 1);
  EXPECT_NE(half.output.find("tls.cert"), std::string::npos) << half.output;
}

TEST_F(TlsTest, WorkersPresentClientCertificatesFromTheTrustedCa) {
  auto coordinator = start_coordinator({"--tls-client-ca", pki_.ca.string()});
  const auto token_file = (dir_ / "coordinator" / "admin.token").string();
  const std::string worker = (test::bin_dir() / "ern-worker").string();
  auto worker_args = [&](const std::string& name, const fs::path& cert, const fs::path& key) {
    return std::vector<std::string>{"--coordinator",
                                    coordinator->address(),
                                    "--token-file",
                                    token_file,
                                    "--ca",
                                    pki_.ca.string(),
                                    "--cert",
                                    cert.string(),
                                    "--key",
                                    key.string(),
                                    "--name",
                                    name,
                                    "--data",
                                    (dir_ / name).string(),
                                    "--retry-seconds",
                                    "0",
                                    "--metrics-listen",
                                    ""};
  };
  test::ServerProcess trusted(worker, worker_args("trusted", pki_.client_cert, pki_.client_key),
                              dir_ / "trusted.log", "registered with ");
  EXPECT_NE(trusted.log().find("registered with"), std::string::npos);

  // A certificate from another CA is refused in the handshake: the worker never registers.
  auto args = worker_args("rogue", pki_.rogue_cert, pki_.rogue_key);
  args.insert(args.begin(), worker);
  const auto rogue = test::run(args);
  EXPECT_NE(rogue.exit_code, 0);
  EXPECT_EQ(rogue.output.find("registered with"), std::string::npos) << rogue.output;
}

// The single-machine default behind TLS: embedded workers reach their coordinator in process and
// the embedded farm on loopback, so a job runs without any certificate of their own.
TEST_F(TlsTest, EmbeddedWorkersRunAJobBehindATlsCoordinator) {
  auto coordinator = start_coordinator(
      {"--embedded-devicefarm", "--embedded-workers", "1", "--devicefarm-config",
       (test::source_dir() / "configs/devicefarm.yaml").string(), "--worker-data-roots",
       test::test_data_dir().string(), "--heartbeat-ms", "200", "--lease-ms", "2000"});
  const auto spec = dir_ / "spec.yaml";
  std::ofstream(spec) << test::tiny_search_spec(10);
  auto watched =
      ernctl({"search", "submit", spec.string(), "--watch", "--server", coordinator->address(),
              "--ca", pki_.ca.string(), "--token", test::admin_token(dir_ / "coordinator")});
  EXPECT_EQ(watched.exit_code, 0) << watched.output << "\n" << coordinator->log();
  EXPECT_NE(watched.output.find("SUCCEEDED"), std::string::npos) << watched.output;
}

TEST_F(TlsTest, ADeviceFarmRequiringClientCertificatesServesOnlyThoseWhoPresentOne) {
  test::ServerProcess farm(
      (test::bin_dir() / "ern-devicefarm").string(),
      {"--config", (test::source_dir() / "configs/devicefarm.yaml").string(), "--listen",
       "127.0.0.1:0", "--data", (dir_ / "farm").string(), "--tls-cert", pki_.server_cert.string(),
       "--tls-key", pki_.server_key.string(), "--tls-client-ca", pki_.ca.string(),
       "--require-client-cert"},
      dir_ / "farm.log");
  auto init = ernctl({"model", "init", "--width", "8", "--enc", "1,1", "--middle", "1", "--dec",
                      "1,1", "-o", (dir_ / "tiny").string()});
  ASSERT_EQ(init.exit_code, 0) << init.output;
  auto profile = [&](std::vector<std::string> tls_flags) {
    std::vector<std::string> args = {"model",        "profile",      (dir_ / "tiny").string(),
                                     "--devicefarm", farm.address(), "--size",
                                     "32",           "--json"};
    args.insert(args.end(), tls_flags.begin(), tls_flags.end());
    return ernctl(args);
  };
  auto with_certificate = profile({"--ca", pki_.ca.string(), "--cert", pki_.client_cert.string(),
                                   "--key", pki_.client_key.string()});
  EXPECT_EQ(with_certificate.exit_code, 0) << with_certificate.output;
  EXPECT_NE(with_certificate.output.find("\"latency_ms\""), std::string::npos);

  auto without = profile({"--ca", pki_.ca.string()});
  EXPECT_NE(without.exit_code, 0);
  EXPECT_NE(without.output.find("14 "), std::string::npos) << without.output;  // UNAVAILABLE
  auto rogue = profile({"--ca", pki_.ca.string(), "--cert", pki_.rogue_cert.string(), "--key",
                        pki_.rogue_key.string()});
  EXPECT_NE(rogue.exit_code, 0);
}

}  // namespace
}  // namespace ern
