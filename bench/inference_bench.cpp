// Forward-pass speed of ERN's serving path beside its peers, measured in the same run on the same
// machine, thread count and weights: the same network as LibTorch runs it for training (no folding,
// contiguous layout), the reference NAFNet module in PyTorch eager mode (python3-torch) and
// OpenCV's non-local means denoiser on an image of the same size.

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "bench/architecture_flags.h"
#include "bench/timing.h"
#include "client/arguments.h"
#include "common/heap_tuning.h"
#include "common/program_info.h"
#include "common/subprocess.h"
#include "common/temp_dir.h"
#include "model/evaluation.h"
#include "model/model_dir.h"
#include "model/nlm_reference.h"
#include "model/tool_paths.h"

namespace {

using ern::bench::time_repeats;
using ern::bench::Timing;

void print_row(const char* name, const Timing& t, double serving_ms) {
  std::printf("  %-30s %9.1f %9.1f %9.1f %8.2fx\n", name, t.median_ms, t.p10_ms, t.p90_ms,
              t.median_ms / serving_ms);
}

}  // namespace

namespace {
constexpr char kUsage[] =
    R"(usage: ern-bench-inference [--model DIR | --width 32 --enc 2,2,4,8 --middle 12 --dec 2,2,2,2
                            [--genotype naf,skip,...]] [--sizes 256,512,1024] [--threads 2]
                           [--repeats 10])";
}  // namespace

int main(int argc, char** argv) {
  if (ern::answered_help_or_version(argc, argv, "ern-bench-inference", kUsage)) return 0;
  ern::keep_freed_memory_in_heap();
  try {
    ern::cli::Arguments args(
        std::vector<std::string>(argv + 1, argv + argc),
        {"model", "width", "enc", "middle", "dec", "genotype", "sizes", "threads", "repeats"});
    const auto sizes = ern::parse_block_list(args.value_or("sizes", "256"), "--sizes");
    const int threads = static_cast<int>(args.integer_or("threads", 2, 1, 256));
    const int repeats = static_cast<int>(args.integer_or("repeats", 10, 1, 10000));
    torch::set_num_threads(threads);
    cv::setNumThreads(threads);

    // Both sides load the same model directory (random weights unless one is given).
    ern::TempDir scratch("ern-bench");
    std::filesystem::path model_dir;
    if (args.has("model")) {
      model_dir = args.required("model");
    } else {
      ern::Nafnet random(ern::bench::architecture_from(args));
      model_dir = scratch.path() / "model";
      ern::save_model_dir(model_dir, random, {{"source", "random"}});
    }
    auto plain = ern::load_model_dir(model_dir);
    plain.network->eval();
    auto serving = ern::load_model_dir(model_dir);
    serving.network->prepare_for_inference();

    // The eager peer twice: as python3 runs by default, and with the heap settings ERN's own
    // processes use (glibc tunables), so the table separates the allocator from the rest.
    const auto run_peer = [&](const std::vector<std::string>& environment) {
      std::vector<std::string> argv = {"/usr/bin/env"};
      argv.insert(argv.end(), environment.begin(), environment.end());
      argv.insert(argv.end(),
                  {ERN_DEFAULT_PYTHON, std::string(ERN_BENCH_DIR) + "/pytorch_eager_inference.py",
                   model_dir.string(), "--sizes", args.value_or("sizes", "256"), "--threads",
                   std::to_string(threads), "--repeats", std::to_string(repeats)});
      const auto peer = ern::run_subprocess(argv);
      if (peer.exit_code != 0)
        throw std::runtime_error("PyTorch eager peer failed: " + peer.output);
      return nlohmann::json::parse(peer.output.substr(peer.output.find('{')));
    };
    const auto eager = run_peer({});
    const auto eager_tuned = run_peer(
        {"MALLOC_MMAP_MAX_=0", "MALLOC_TRIM_THRESHOLD_=1073741824", "MALLOC_TOP_PAD_=67108864"});
    const auto peer_timing = [](const nlohmann::json& peer, int size) {
      const auto& times = peer.at(std::to_string(size));
      return Timing{times["median_ms"], times["p10_ms"], times["p90_ms"]};
    };

    std::printf("%s, batch 1, %d threads, %d repeats\n", plain.architecture.describe().c_str(),
                threads, repeats);
    for (int size : sizes) {
      const auto input = torch::rand({1, 3, size, size});
      const Timing fast = time_repeats(repeats, [&] {
        c10::InferenceMode inference;
        serving.network->forward(input);
      });
      const Timing unfolded = time_repeats(repeats, [&] {
        torch::NoGradGuard no_grad;
        plain.network->forward(input);
      });
      cv::Mat noisy(size, size, CV_8UC3);
      cv::randu(noisy, 0, 255);
      const double nlm_factor = ern::load_nlm_strength_if_present().factor(25.0);
      const Timing nlm = time_repeats(std::max(1, repeats / 3),
                                      [&] { ern::nlm_denoise(noisy, 25.0, nlm_factor); });

      std::printf("%dx%d %26s %9s %9s %9s %9s\n", size, size, "", "median ms", "p10 ms", "p90 ms",
                  "vs ERN");
      print_row("ERN serving path", fast, fast.median_ms);
      print_row("LibTorch, unfolded, NCHW", unfolded, fast.median_ms);
      print_row("PyTorch eager (reference)", peer_timing(eager, size), fast.median_ms);
      print_row("  same, ERN's heap settings", peer_timing(eager_tuned, size), fast.median_ms);
      print_row("OpenCV NLM (sigma 25)", nlm, fast.median_ms);
    }
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "ern-bench-inference: %s\n", error.what());
    return 1;
  }
}
