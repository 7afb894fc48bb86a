// Inference speed of ERN's C++ NAFNet beside its peers, measured in the same run on the same
// machine and thread count: the reference NAFNet in PyTorch eager mode (python3-torch) and
// OpenCV's non-local means denoiser on an image of the same size.
//
// usage: ern-bench-inference [--width 32 --enc 2,2,4,8 --middle 12 --dec 2,2,2,2] [--size 256]
//        [--threads 2] [--repeats 10]

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "client/arguments.h"
#include "common/subprocess.h"
#include "model/evaluation.h"
#include "model/nafnet.h"
#include "model/tool_paths.h"

namespace {

struct Timing {
  double median_ms, p10_ms, p90_ms;
};

Timing time_repeats(int repeats, const std::function<void()>& work) {
  work();  // warm-up
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    work();
    times.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count());
  }
  std::sort(times.begin(), times.end());
  auto pick = [&](double q) { return times[std::min(times.size() - 1, size_t(q * times.size()))]; };
  return {pick(0.5), pick(0.1), pick(0.9)};
}

std::string join(const std::vector<int>& values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) out += (i ? "," : "") + std::to_string(values[i]);
  return out;
}

void print_row(const char* name, const Timing& t, double reference_ms) {
  std::printf("%-28s %9.1f %9.1f %9.1f %8.2fx\n", name, t.median_ms, t.p10_ms, t.p90_ms,
              t.median_ms / reference_ms);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    ern::cli::Arguments args(std::vector<std::string>(argv + 1, argv + argc),
                             {"width", "enc", "middle", "dec", "size", "threads", "repeats"});
    ern::NafnetArchitecture arch;
    arch.width = static_cast<int>(args.integer_or("width", 32, 2, 1024));
    arch.middle_blocks = static_cast<int>(args.integer_or("middle", 12, 0, 64));
    if (args.has("enc")) arch.encoder_blocks = ern::parse_block_list(args.required("enc"), "--enc");
    if (args.has("dec")) arch.decoder_blocks = ern::parse_block_list(args.required("dec"), "--dec");
    arch.validate();
    const int size = static_cast<int>(args.integer_or("size", 256, 16, 4096));
    const int threads = static_cast<int>(args.integer_or("threads", 2, 1, 256));
    const int repeats = static_cast<int>(args.integer_or("repeats", 10, 1, 10000));

    torch::set_num_threads(threads);
    cv::setNumThreads(threads);
    ern::Nafnet network(arch);
    network->eval();
    const auto input = torch::rand({1, 3, size, size});
    const Timing ours = time_repeats(repeats, [&] {
      torch::NoGradGuard no_grad;
      network->forward(input);
    });

    const auto peer = ern::run_subprocess(
        {ERN_DEFAULT_PYTHON, std::string(ERN_BENCH_DIR) + "/pytorch_eager_inference.py", "--width",
         std::to_string(arch.width), "--enc", join(arch.encoder_blocks), "--middle",
         std::to_string(arch.middle_blocks), "--dec", join(arch.decoder_blocks), "--size",
         std::to_string(size), "--threads", std::to_string(threads), "--repeats",
         std::to_string(repeats)});
    if (peer.exit_code != 0) throw std::runtime_error("PyTorch eager peer failed: " + peer.output);
    const auto peer_json = nlohmann::json::parse(peer.output.substr(peer.output.find('{')));
    const Timing eager{peer_json["median_ms"], peer_json["p10_ms"], peer_json["p90_ms"]};

    cv::Mat noisy(size, size, CV_8UC3);
    cv::randu(noisy, 0, 255);
    const Timing nlm =
        time_repeats(std::max(1, repeats / 3), [&] { ern::nlm_denoise(noisy, 25.0); });

    std::printf("NAFNet %s, %dx%d, batch 1, %d threads, %d repeats\n", arch.describe().c_str(),
                size, size, threads, repeats);
    std::printf("%-28s %9s %9s %9s %9s\n", "", "median ms", "p10 ms", "p90 ms", "vs ERN");
    print_row("ERN C++ (LibTorch)", ours, ours.median_ms);
    print_row("PyTorch eager (reference)", eager, ours.median_ms);
    print_row("OpenCV NLM (sigma 25)", nlm, ours.median_ms);
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "ern-bench-inference: %s\n", error.what());
    return 1;
  }
}
