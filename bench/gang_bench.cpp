// Training throughput of one job on a gang of processes (c10d, Gloo on loopback) against the same
// job alone, measured in the same run: steps/s and images/s for 1 and 2 members, one LibTorch
// thread each, each member with `--batch` images per step (the gang's global batch is N × batch).
// The members are this program started again with --member (so each is a process of its own, as
// workers are).

#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "bench/architecture_flags.h"
#include "client/arguments.h"
#include "common/heap_tuning.h"
#include "common/program_info.h"
#include "common/subprocess.h"
#include "model/dataset.h"
#include "model/nafnet.h"
#include "model/trainer.h"
#include "model/training_gang.h"

namespace {

constexpr int kWarmupSteps = 3;

// One member: trains warm-up + `steps` steps and prints the seconds the timed steps took.
int run_member(const ern::cli::Arguments& args) {
  torch::set_num_threads(1);
  const int world = static_cast<int>(args.integer_or("world", 1, 1, 64));
  const auto seat = ern::gang_seat(static_cast<int>(args.integer_or("member", 0, 0, world - 1)),
                                   world, args.value_or("rendezvous", ""));
  ern::TrainingGang gang = world > 1 ? ern::TrainingGang(seat, torch::kCPU) : ern::TrainingGang();
  torch::manual_seed(0);
  ern::Nafnet network(ern::bench::architecture_from(args));
  ern::TrainOptions options;
  options.batch = static_cast<int>(args.integer_or("batch", 4, 1, 256));
  options.patch = static_cast<int>(args.integer_or("patch", 64, 16, 512));
  const int64_t steps = args.integer_or("steps", 20, 1, 100000);
  options.iterations = kWarmupSteps + steps;
  ern::SyntheticNoiseData data(args.value_or("images", "data/images/train"), options.sigmas,
                               options.seed, options.patch);
  ern::Trainer trainer(network, data, options, torch::kCPU, &gang);
  std::chrono::steady_clock::time_point timed_from;
  trainer.run([&](const ern::TrainProgress& progress) {
    if (progress.step == kWarmupSteps) timed_from = std::chrono::steady_clock::now();
  });
  std::printf("seconds %.6f\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - timed_from).count());
  return 0;
}

// Seconds rank 0 took for the timed steps with `world` members.
double time_gang(const std::string& self, const std::vector<std::string>& passed, int world,
                 int port) {
  std::vector<ern::SubprocessResult> results(world);
  std::vector<std::thread> members;
  for (int rank = 0; rank < world; ++rank) {
    members.emplace_back([&, rank] {
      std::vector<std::string> argv = {self,
                                       "--member",
                                       std::to_string(rank),
                                       "--world",
                                       std::to_string(world),
                                       "--rendezvous",
                                       "127.0.0.1:" + std::to_string(port)};
      argv.insert(argv.end(), passed.begin(), passed.end());
      results[rank] = ern::run_subprocess(argv);
    });
  }
  for (auto& member : members) member.join();
  for (const auto& result : results) {
    if (result.exit_code != 0) throw std::runtime_error("a member failed: " + result.output);
  }
  const auto found = results[0].output.rfind("seconds ");
  if (found == std::string::npos) throw std::runtime_error("no timing: " + results[0].output);
  return std::stod(results[0].output.substr(found + 8));
}

}  // namespace

namespace {
constexpr char kUsage[] =
    R"(usage: ern-bench-gang [--width 16 --enc 2,2,2,2 --middle 2 --dec 2,2,2,2] [--batch 4]
                      [--patch 64] [--steps 20] [--images data/images/train])";
}  // namespace

int main(int argc, char** argv) {
  if (ern::answered_help_or_version(argc, argv, "ern-bench-gang", kUsage)) return 0;
  ern::keep_freed_memory_in_heap();
  try {
    const std::vector<std::string> raw(argv + 1, argv + argc);
    const ern::cli::Arguments args(
        raw, {"width", "enc", "middle", "dec", "genotype", "batch", "patch", "steps", "images",
              "member", "world", "rendezvous"});
    if (args.has("member")) return run_member(args);

    const auto arch = ern::bench::architecture_from(args);
    const int batch = static_cast<int>(args.integer_or("batch", 4, 1, 256));
    const int64_t steps = args.integer_or("steps", 20, 1, 100000);
    std::printf("%s, batch %d per member, %lld timed steps, one thread per member, %u cores\n",
                arch.describe().c_str(), batch, static_cast<long long>(steps),
                std::thread::hardware_concurrency());
    std::printf("%-8s %10s %12s %10s\n", "members", "steps/s", "images/s", "scaling");
    double alone_images_per_second = 0;
    int port = 29400 + static_cast<int>(getpid() % 90) * 10;
    for (const int world : {1, 2}) {
      const double seconds = time_gang(argv[0], raw, world, port++);
      const double steps_per_second = static_cast<double>(steps) / seconds;
      const double images_per_second = steps_per_second * world * batch;
      if (world == 1) alone_images_per_second = images_per_second;
      std::printf("%-8d %10.2f %12.1f %9.2fx\n", world, steps_per_second, images_per_second,
                  images_per_second / alone_images_per_second);
    }
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "ern-bench-gang: %s\n", error.what());
    return 1;
  }
}
