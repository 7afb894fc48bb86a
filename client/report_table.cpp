#include "client/report_table.h"

#include <cstdio>

namespace ern::cli {

void print_search_report(const nlohmann::json& report) {
  const auto& baseline = report["baseline"];
  const auto& derived = report["derived"];
  std::printf("genotype: %s\n", report["genotype"].dump().c_str());
  std::printf("final mean normalized entropy %.4f\n",
              report["search"]["final_normalized_entropy"].get<double>());
  std::printf("%-10s %10s %8s %12s %12s", "", "params", "G MACs", "latency ms", "memory MB");
  for (const auto& [sigma, value] : baseline["psnr"].items())
    std::printf("  PSNR s=%-3s", sigma.c_str());
  std::printf("\n");
  for (const auto& [name, network] :
       {std::pair{"NAFNet", baseline}, std::pair{"ERN-Net", derived}}) {
    std::printf("%-10s %10lld %8.3f %12.2f %12.1f", name, network["params"].get<long long>(),
                network["gmacs_256"].get<double>(), network["latency_ms"].get<double>(),
                network["peak_memory_bytes"].get<double>() / 1e6);
    for (const auto& [sigma, value] : network["psnr"].items())
      std::printf("  %10.2f", value.get<double>());
    std::printf("\n");
  }
  std::printf("latency %.2fx lower on %s; PSNR change", report["latency_speedup"].get<double>(),
              report["device"].get<std::string>().c_str());
  for (const auto& [sigma, value] : report["psnr_change_db"].items()) {
    std::printf(" s=%s %+.2f dB", sigma.c_str(), value.get<double>());
  }
  std::printf("\n");
}

}  // namespace ern::cli
