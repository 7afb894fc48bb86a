#pragma once
// Rows of the jobs table as messages, shared by the parts of the JobStore (job_store.cpp,
// lease_records.cpp).

#include <string>

#include "common/rpc_error.h"
#include "common/sqlite.h"
#include "ern/v1/search.pb.h"
#include "ern/v1/worker.pb.h"

namespace ern::server {

// The columns job_from_row reads, in its order.
inline constexpr char kJobColumns[] =
    "id, name, team, priority, device, spec_yaml, state, stage, step, total_steps, attempts, "
    "max_attempts, checkpoint_step, resumed_from_step, worker, model, failure_reason, loss, "
    "expected_latency_ms, normalized_entropy, eta_seconds, created_ms, started_ms, finished_ms, "
    "lease_token, lease_expires_ms, waiting_for, not_before_ms, workers, min_workers, world_size, "
    "rendezvous, sweep";
// How many: a query that selects more after them finds the next one at this index.
inline constexpr int kJobColumnCount = [] {
  int columns = 1;
  for (const char c : kJobColumns) columns += c == ',';
  return columns;
}();

v1::Job job_from_row(const Statement& row);
bool is_terminal(v1::JobState state);
// A listing's page token (the seq of the last row shown; empty: from the newest) as the bound
// of the next page's rows; std::invalid_argument naming the field when it is not one `rpc` gave.
int64_t rows_before_page_token(const std::string& page_token, const char* rpc);
// FAILED_PRECONDITION: `lease` is not the job's current lease.
RpcError stale_lease(const v1::Lease& lease, const std::string& why);

}  // namespace ern::server
