#include "devicefarm/backends.h"

#include <fstream>
#include <sstream>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "devicefarm/memory_tracker.h"
#include "model/nafnet.h"

namespace ern::farm {
namespace {

void randomize_scales(torch::nn::Module& module) {
  // beta and gamma start at zero; give them trained-like values so no branch is skipped by
  // a lazy kernel (none is today, but the timing should not depend on it).
  for (auto& item : module.named_parameters()) {
    const auto& name = item.key();
    if (name.find("beta") != std::string::npos || name.find("gamma") != std::string::npos) {
      item.value().normal_(0.0, 0.1);
    }
  }
}

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> cells;
  std::stringstream stream(line);
  std::string cell;
  while (std::getline(stream, cell, ',')) cells.push_back(cell);
  return cells;
}

}  // namespace

LocalCpuBackend::LocalCpuBackend(int threads, MeasurementPolicy policy)
    : threads_(threads), policy_(policy) {
  if (threads < 1) throw std::invalid_argument("threads: must be >= 1");
}

LatencyStats LocalCpuBackend::measure_block(const BlockSpec& spec) {
  spec.validate();
  torch::set_num_threads(threads_);
  torch::NoGradGuard no_grad;
  const auto alternative = parse_alternative(spec.alternative);
  const auto input = torch::rand({1, spec.channels, spec.height, spec.width});
  if (traits_of(alternative).identity) {
    return measure_latency([&] { input.clone(); },
                           policy_);  // what a skip costs: nothing but a copy
  }
  NafBlock block(spec.channels, alternative);
  randomize_scales(*block);
  block->eval();
  return measure_latency([&] { block->forward(input); }, policy_);
}

NetworkMeasurement LocalCpuBackend::measure_network(const NafnetArchitecture& architecture,
                                                    int height, int width) {
  if (height <= 0 || width <= 0 || height > 8192 || width > 8192) {
    throw std::invalid_argument("height/width: must be in 1..8192");
  }
  MemoryTracker::install();
  torch::set_num_threads(threads_);
  torch::NoGradGuard no_grad;
  const int64_t before = MemoryTracker::current_bytes();
  Nafnet network(architecture);
  randomize_scales(*network);
  network->eval();
  const auto input = torch::rand({1, architecture.image_channels, height, width});
  NetworkMeasurement result;
  result.stats = measure_latency([&] { network->forward(input); }, policy_);
  MemoryTracker::reset_peak();
  network->forward(input);
  result.peak_memory_bytes = MemoryTracker::peak_bytes() - before;
  return result;
}

TableBackend::TableBackend(const std::filesystem::path& file) : file_(file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error(file.string() + ": cannot read latency table");
  auto add = [&](BlockSpec spec, LatencyStats stats, const std::string& where) {
    try {
      spec.validate();
    } catch (const std::invalid_argument& error) {
      throw std::runtime_error(where + ": " + error.what());
    }
    rows_[spec.key()] = stats;
  };
  if (file.extension() == ".json") {
    try {
      const auto json = nlohmann::json::parse(in);
      int index = 0;
      for (const auto& row : json.at("blocks")) {
        add({row.at("alternative"), row.at("channels"), row.at("height"), row.at("width")},
            {row.at("median_ms"), row.value("p10_ms", 0.0), row.value("p90_ms", 0.0),
             row.value("runs", 0)},
            file.string() + ": blocks[" + std::to_string(index++) + "]");
      }
    } catch (const nlohmann::json::exception& error) {
      throw std::runtime_error(file.string() + ": " + error.what());
    }
    return;
  }
  std::string line;
  std::getline(in, line);  // header
  int line_number = 1;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.empty() || line[0] == '#') continue;
    const auto cells = split_csv(line);
    const std::string where = file.string() + ":" + std::to_string(line_number);
    if (cells.size() != 8) throw std::runtime_error(where + ": expected 8 columns");
    try {
      add({cells[0], std::stoi(cells[1]), std::stoi(cells[2]), std::stoi(cells[3])},
          {std::stod(cells[4]), std::stod(cells[5]), std::stod(cells[6]), std::stoi(cells[7])},
          where);
    } catch (const std::logic_error& error) {
      throw std::runtime_error(where + ": bad number");
    }
  }
}

LatencyStats TableBackend::measure_block(const BlockSpec& spec) {
  spec.validate();
  auto found = rows_.find(spec.key());
  if (found == rows_.end()) {
    throw NotFoundError("spec " + spec.key() + " is not in the table " + file_.string());
  }
  return found->second;
}

NetworkMeasurement TableBackend::measure_network(const NafnetArchitecture&, int, int) {
  throw PreconditionError("device serves a lookup table (" + file_.string() +
                          "): it has per-block measurements only, no whole networks");
}

std::unique_ptr<LatencyBackend> make_backend(const DeviceProfile& profile,
                                             const MeasurementPolicy& policy) {
  if (profile.backend == "local-cpu")
    return std::make_unique<LocalCpuBackend>(profile.threads, policy);
  if (profile.backend == "table") return std::make_unique<TableBackend>(profile.table);
  throw std::invalid_argument("device " + profile.id +
                              ": backend must be local-cpu or table, got '" + profile.backend +
                              "'");
}

}  // namespace ern::farm
