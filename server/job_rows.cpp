#include "server/job_rows.h"

namespace ern::server {

v1::Job job_from_row(const Statement& row) {
  v1::Job job;
  job.set_id(row.text(0));
  job.set_name(row.text(1));
  job.set_team(row.text(2));
  job.set_priority(static_cast<int32_t>(row.integer(3)));
  job.set_device(row.text(4));
  job.set_spec_yaml(row.text(5));
  job.set_state(static_cast<v1::JobState>(row.integer(6)));
  job.set_stage(row.text(7));
  job.set_step(row.integer(8));
  job.set_total_steps(row.integer(9));
  job.set_attempts(static_cast<int32_t>(row.integer(10)));
  job.set_max_attempts(static_cast<int32_t>(row.integer(11)));
  job.set_checkpoint_step(row.integer(12));
  job.set_resumed_from_step(row.integer(13));
  job.set_worker(row.text(14));
  job.set_model(row.text(15));
  job.set_failure_reason(row.text(16));
  job.set_loss(row.real(17));
  job.set_expected_latency_ms(row.real(18));
  job.set_normalized_entropy(row.real(19));
  job.set_eta_seconds(row.real(20));
  job.set_created_unix_ms(row.integer(21));
  job.set_started_unix_ms(row.integer(22));
  job.set_finished_unix_ms(row.integer(23));
  job.set_waiting_for(row.text(26));
  job.set_not_before_unix_ms(row.integer(27));
  job.set_workers(static_cast<int32_t>(row.integer(28)));
  job.set_min_workers(static_cast<int32_t>(row.integer(29)));
  job.set_world_size(static_cast<int32_t>(row.integer(30)));
  job.set_rendezvous(row.text(31));
  job.set_sweep(row.text(32));
  return job;
}

bool is_terminal(v1::JobState state) {
  return state == v1::SUCCEEDED || state == v1::FAILED || state == v1::CANCELLED;
}

int64_t rows_before_page_token(const std::string& page_token, const char* rpc) {
  if (page_token.empty()) return INT64_MAX;
  try {
    size_t used = 0;
    const int64_t before = std::stoll(page_token, &used);
    if (used == page_token.size() && before > 0) return before;
  } catch (const std::exception&) {
  }
  throw std::invalid_argument(std::string("page_token: not a token from a previous ") + rpc);
}

RpcError stale_lease(const v1::Lease& lease, const std::string& why) {
  return RpcError(grpc::StatusCode::FAILED_PRECONDITION,
                  "lease: not the current lease of job " + lease.job_id() + " (" + why + ")");
}

}  // namespace ern::server
