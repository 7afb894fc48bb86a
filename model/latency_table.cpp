#include "model/latency_table.h"

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "common/sha256.h"

namespace ern {
namespace {

namespace fs = std::filesystem;

std::vector<BlockQuery> queries_of(const SearchSpec& spec) {
  std::vector<BlockQuery> queries;
  for (const auto& block : spec.architecture.searchable_blocks()) {
    const int height = std::max(1, spec.latency_height / block.downscale);
    const int width = std::max(1, spec.latency_width / block.downscale);
    for (auto alternative : spec.alternatives)
      queries.push_back({alternative, block.channels, height, width});
    queries.push_back({BlockAlternative::kNaf, block.channels, height, width});
  }
  return queries;
}

nlohmann::json row_json(const BlockQuery& query, double ms) {
  return {alternative_id(query.alternative), query.channels, query.height, query.width, ms};
}

// The saved answers, if the file holds these very queries on this device.
std::optional<std::vector<double>> read_saved(const fs::path& saved, const std::string& device,
                                              const std::vector<BlockQuery>& queries) {
  std::ifstream in(saved);
  if (!in) return std::nullopt;
  const auto not_this_table = [&]() -> std::optional<std::vector<double>> {
    spdlog::warn("{}: not this search's latency table; asking the device farm again",
                 saved.string());
    return std::nullopt;
  };
  try {
    const auto json = nlohmann::json::parse(in);
    const auto& rows = json.at("rows");
    if (json.at("device") != device || rows.size() != queries.size()) return not_this_table();
    std::vector<double> answers;
    for (size_t i = 0; i < queries.size(); ++i) {
      const double ms = rows[i].at(4).get<double>();
      if (rows[i] != row_json(queries[i], ms) || !(ms >= 0.0)) return not_this_table();
      answers.push_back(ms);
    }
    return answers;
  } catch (const nlohmann::json::exception&) {  // not JSON, or rows of another shape
    return not_this_table();
  }
}

void save(const fs::path& saved, const std::string& device, const std::vector<BlockQuery>& queries,
          const std::vector<double>& answers) {
  nlohmann::json rows = nlohmann::json::array();
  for (size_t i = 0; i < queries.size(); ++i) rows.push_back(row_json(queries[i], answers[i]));
  write_file_atomically(saved, nlohmann::json{{"device", device}, {"rows", rows}}.dump(1) + "\n");
}

}  // namespace

LatencyTable build_latency_table(const SearchSpec& spec, LatencyOracle& farm, TrainingGang& gang,
                                 const fs::path& saved) {
  const auto blocks = spec.architecture.searchable_blocks();
  const auto queries = queries_of(spec);
  auto answers = torch::zeros({static_cast<int64_t>(queries.size())}, torch::kFloat64);
  if (gang.leader()) {
    auto latencies = read_saved(saved, spec.device, queries);
    if (latencies) {
      spdlog::info("latency table: the {} rows this search started with ({})", queries.size(),
                   saved.string());
    } else {
      latencies = farm.block_latencies_ms(spec.device, queries);
      save(saved, spec.device, queries, *latencies);
    }
    answers = torch::tensor(*latencies, torch::kFloat64);
  }
  gang.broadcast(answers);
  const std::vector<double> latencies(answers.data_ptr<double>(),
                                      answers.data_ptr<double>() + answers.numel());
  const int64_t k = static_cast<int64_t>(spec.alternatives.size());
  LatencyTable table;
  std::ostringstream rows;
  rows.precision(9);
  for (size_t i = 0; i < queries.size(); ++i) {
    rows << spec.device << '\t' << alternative_id(queries[i].alternative) << '\t'
         << queries[i].channels << '\t' << queries[i].height << '\t' << queries[i].width << '\t'
         << latencies[i] << '\n';
  }
  table.sha256 = sha256_hex(rows.str());
  table.rows = static_cast<int>(queries.size());
  table.ms = torch::zeros({static_cast<int64_t>(blocks.size()), k}, torch::kFloat64);
  size_t next = 0;
  for (size_t b = 0; b < blocks.size(); ++b) {
    for (int64_t j = 0; j < k; ++j) table.ms[b][j] = latencies[next++];
    table.baseline_ms += latencies[next++];
  }
  return table;
}

double lut_latency(const LatencyTable& table, const SearchSpec& spec,
                   const std::vector<BlockAlternative>& genotype) {
  double total = 0.0;
  for (size_t b = 0; b < genotype.size(); ++b) {
    const auto j = std::find(spec.alternatives.begin(), spec.alternatives.end(), genotype[b]) -
                   spec.alternatives.begin();
    total += table.ms[b][j].item<double>();
  }
  return total;
}

}  // namespace ern
