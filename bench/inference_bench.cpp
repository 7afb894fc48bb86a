// Forward-pass speed of ERN's serving engine beside the peers an expert would use, measured in the
// same run on the same machine, thread count and weights: the reference NAFNet module in
// python3-torch (eager NCHW as it runs by default, eager channels-last, and a frozen TorchScript
// module, the last two with the heap settings of ERN's processes), ERN's own LibTorch path (the
// unfused reference of the fused engine; its bf16 and int8 serving modes), OpenCV's non-local means
// on an image of the same size, and the machine's roof: the rate of a large channels-last 1x1
// convolution.

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
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
#include "inference/fused_nafnet.h"
#include "inference/serving_engine.h"
#include "model/dataset.h"
#include "model/evaluation.h"
#include "model/mac_counter.h"
#include "model/model_dir.h"
#include "model/nlm_reference.h"
#include "model/tool_paths.h"

namespace {

using ern::bench::time_repeats;
using ern::bench::Timing;

// glibc tunables equal to what keep_freed_memory_in_heap() sets in ERN's own processes.
const std::vector<std::string> kHeapSettings = {"MALLOC_MMAP_MAX_=0", "MALLOC_ARENA_MAX=1",
                                                "MALLOC_TRIM_THRESHOLD_=1073741824",
                                                "MALLOC_TOP_PAD_=67108864"};

// G MAC/s of a 64 -> 64 1x1 convolution over a channels-last 512x512 image: about as fast as this
// machine multiplies at these widths, the ceiling a whole network's rate is judged against.
double roof_gmacs(int repeats) {
  c10::InferenceMode inference;
  const auto x = torch::rand({1, 64, 512, 512}).contiguous(torch::MemoryFormat::ChannelsLast);
  const auto w = torch::rand({64, 64, 1, 1}).contiguous(torch::MemoryFormat::ChannelsLast);
  const Timing t = time_repeats(repeats, [&] { torch::conv2d(x, w); });
  return 512.0 * 512 * 64 * 64 / (t.p10_ms * 1e6);
}

// Each (row, size)'s fastest round: on a shared machine a neighbour's burst slows a whole round
// of one side, and rounds that alternate the sides keep such a burst out of their ratios.
class FastestRounds {
 public:
  void keep(const std::string& row, int size, const Timing& timing) {
    auto [it, added] = best_.try_emplace({row, size}, timing);
    if (!added && timing.median_ms < it->second.median_ms) it->second = timing;
  }
  Timing at(const std::string& row, int size) const { return best_.at({row, size}); }
  bool has(const std::string& row, int size) const { return best_.count({row, size}) > 0; }

 private:
  std::map<std::pair<std::string, int>, Timing> best_;
};

void print_row(const char* name, const Timing& t, double macs, double best_peer_ms) {
  std::printf("  %-44s %9.1f %9.1f %9.1f %9.1f %8.2fx\n", name, t.median_ms, t.p10_ms, t.p90_ms,
              macs / (t.median_ms * 1e6), best_peer_ms / t.median_ms);
}

}  // namespace

namespace {
constexpr char kUsage[] =
    R"(usage: ern-bench-inference [--model DIR | --width 32 --enc 2,2,4,8 --middle 12 --dec 2,2,2,2
                            [--genotype naf,skip,...]] [--sizes 256,512,1024] [--threads 2]
                           [--repeats 10] [--rounds 3] [--calibration-images data/images/val])";
}  // namespace

int main(int argc, char** argv) {
  if (ern::answered_help_or_version(argc, argv, "ern-bench-inference", kUsage)) return 0;
  ern::keep_freed_memory_in_heap();
  try {
    ern::cli::Arguments args(std::vector<std::string>(argv + 1, argv + argc),
                             {"model", "width", "enc", "middle", "dec", "genotype", "sizes",
                              "threads", "repeats", "rounds", "calibration-images"});
    const auto sizes = ern::parse_block_list(args.value_or("sizes", "256"), "--sizes");
    const int threads = static_cast<int>(args.integer_or("threads", 2, 1, 256));
    const int repeats = static_cast<int>(args.integer_or("repeats", 10, 1, 10000));
    const int rounds = static_cast<int>(args.integer_or("rounds", 3, 1, 100));
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
    ern::inference::FusedNafnet engine(serving.network);
    // The opt-in bf16 serving mode, where this CPU computes bf16 natively.
    std::optional<ern::inference::FusedNafnet> bf16_engine;
    if (ern::inference::cpu_has_native_bf16()) {
      bf16_engine.emplace(serving.network, ern::inference::Precision::kBf16);
    }
    // The opt-in int8 serving mode: the model's own calibration, else one on the val photographs.
    const auto calibration =
        serving.metadata.contains("int8_calibration")
            ? ern::inference::int8_calibration_of(serving.metadata, serving.architecture)
            : ern::inference::calibrate_int8(
                  serving,
                  ern::list_images(args.value_or("calibration-images", "data/images/val")));
    ern::inference::FusedNafnet int8_engine(serving.network, ern::inference::Precision::kInt8,
                                            calibration);

    // The python3-torch peers, each in a process of its own.
    const auto run_peers = [&](const std::string& peers,
                               const std::vector<std::string>& environment) {
      std::vector<std::string> argv = {"/usr/bin/env"};
      argv.insert(argv.end(), environment.begin(), environment.end());
      argv.insert(argv.end(),
                  {ERN_DEFAULT_PYTHON, std::string(ERN_BENCH_DIR) + "/pytorch_peers.py",
                   model_dir.string(), "--peers", peers, "--sizes", args.value_or("sizes", "256"),
                   "--threads", std::to_string(threads), "--repeats", std::to_string(repeats)});
      const auto peer = ern::run_subprocess(argv);
      if (peer.exit_code != 0) throw std::runtime_error("PyTorch peer failed: " + peer.output);
      return nlohmann::json::parse(peer.output.substr(peer.output.find('{')));
    };
    const auto peer_timing = [](const nlohmann::json& peer, int size) {
      const auto& times = peer.at(std::to_string(size));
      return Timing{times["median_ms"], times["p10_ms"], times["p90_ms"]};
    };
    std::map<int, torch::Tensor> inputs;
    for (int size : sizes)
      inputs[size] = torch::rand({1, plain.architecture.image_channels, size, size});
    const auto time_engine = [&](const std::function<torch::Tensor(const torch::Tensor&)>& forward,
                                 int size) {
      return time_repeats(repeats, [&] {
        c10::InferenceMode inference;
        forward(inputs.at(size));
      });
    };
    FastestRounds measured;
    double roof = 0.0;
    for (int round = 0; round < rounds; ++round) {
      const auto eager = run_peers("eager", {});
      const auto experts = run_peers("channels-last,frozen", kHeapSettings);
      for (int size : sizes) {
        measured.keep("eager", size, peer_timing(eager.at("eager"), size));
        measured.keep("channels-last", size, peer_timing(experts.at("channels-last"), size));
        measured.keep("frozen", size, peer_timing(experts.at("frozen"), size));
        measured.keep("fused", size, time_engine([&](auto& x) { return engine.forward(x); }, size));
        measured.keep("folded", size,
                      time_engine([&](auto& x) { return serving.network->forward(x); }, size));
        measured.keep("int8", size,
                      time_engine([&](auto& x) { return int8_engine.forward(x); }, size));
        if (bf16_engine) {
          measured.keep("bf16", size,
                        time_engine([&](auto& x) { return bf16_engine->forward(x); }, size));
        }
      }
      roof = std::max(roof, roof_gmacs(repeats));
    }

    std::printf("%s, batch 1, %d threads, %d repeats, each row its fastest of %d rounds\n",
                plain.architecture.describe().c_str(), threads, repeats, rounds);
    std::printf("roof: a 64->64 1x1 convolution, channels-last, 512x512: %.1f G MAC/s\n", roof);
    for (int size : sizes) {
      const double macs = static_cast<double>(ern::count_conv_macs(
          *plain.network, [&](const torch::Tensor& x) { return plain.network->forward(x); },
          plain.architecture.image_channels, size, size));
      const Timing fused = measured.at("fused", size);
      const Timing channels_last = measured.at("channels-last", size);
      const Timing frozen = measured.at("frozen", size);
      const double best_peer_ms = std::min(channels_last.median_ms, frozen.median_ms);

      cv::Mat noisy(size, size, CV_8UC3);
      cv::randu(noisy, 0, 255);
      const double nlm_factor = ern::load_nlm_strength_if_present().factor(25.0);
      const Timing nlm = time_repeats(std::max(1, repeats / 3),
                                      [&] { ern::nlm_denoise(noisy, 25.0, nlm_factor); });

      std::printf("%dx%d, %.2f G MAC %36s %9s %9s %9s %9s %9s\n", size, size, macs / 1e9, "",
                  "median ms", "p10 ms", "p90 ms", "G MAC/s", "vs best");
      print_row("ERN fused engine (oneDNN)", fused, macs, best_peer_ms);
      std::optional<Timing> bf16;
      if (measured.has("bf16", size)) {
        bf16 = measured.at("bf16", size);
        print_row("ERN fused engine, bf16 serving mode", *bf16, macs, best_peer_ms);
      }
      const Timing int8 = measured.at("int8", size);
      print_row("ERN fused engine, int8 serving mode", int8, macs, best_peer_ms);
      print_row("ERN LibTorch path (folded, channels-last)", measured.at("folded", size), macs,
                best_peer_ms);
      print_row("PyTorch eager, NCHW (default)", measured.at("eager", size), macs, best_peer_ms);
      print_row("PyTorch eager, channels-last, ERN heap", channels_last, macs, best_peer_ms);
      print_row("TorchScript frozen, channels-last, ERN heap", frozen, macs, best_peer_ms);
      print_row("OpenCV NLM (sigma 25)", nlm, macs, best_peer_ms);
      std::printf("  fused engine: %.2fx the best expert peer (goal 1.3x), %.0f%% of the roof\n",
                  best_peer_ms / fused.median_ms, 100.0 * macs / (fused.median_ms * 1e6) / roof);
      std::printf("  int8 serving mode: %.2fx the best fp32 expert peer (goal 2x)\n",
                  best_peer_ms / int8.median_ms);
      if (bf16) {
        std::printf("  bf16 serving mode: %.2fx the best fp32 expert peer (goal 2x)\n",
                    best_peer_ms / bf16->median_ms);
      } else {
        std::printf("  bf16 serving mode: not measured, this CPU has no native bf16\n");
      }
    }
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "ern-bench-inference: %s\n", error.what());
    return 1;
  }
}
