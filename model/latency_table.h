#pragma once
// The search's per-block lookup table, read from the device farm once per search and kept in the
// search's work directory: a resumed search goes on with the latencies it started with, whatever
// the farm answers by then (a `local-cpu` device is whichever host the farm runs on).

#include <filesystem>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "model/latency_oracle.h"
#include "model/search_spec.h"
#include "model/training_gang.h"

namespace ern {

struct LatencyTable {
  torch::Tensor ms;          // [blocks, alternatives], alternatives in spec.alternatives' order
  double baseline_ms = 0.0;  // every block `naf`, for normalization
  std::string sha256;        // digest of the rows read (query and answer), the table's version
  int rows = 0;
};

// The table in `saved` when it holds exactly this spec's queries on its device; otherwise the
// farm's answers (asked by the gang's leader and broadcast, so every member searches on one
// table), then written to `saved`.
LatencyTable build_latency_table(const SearchSpec& spec, LatencyOracle& farm, TrainingGang& gang,
                                 const std::filesystem::path& saved);

double lut_latency(const LatencyTable& table, const SearchSpec& spec,
                   const std::vector<BlockAlternative>& genotype);

}  // namespace ern
