// The workers and leases part of the JobStore: registration, heartbeats, acquiring a task, and
// every write a lease holder makes (progress, checkpoints, completion, failure), each checked
// against the job's current lease.

#include <algorithm>
#include <functional>
#include <map>

#include "common/auth/secure_random.h"
#include "common/rpc_error.h"
#include "server/job_rows.h"
#include "server/job_store.h"
#include "server/search_metrics.h"

namespace ern::server {

namespace {

// Unguessable: a worker id or a lease's token is worth nothing to someone who merely knows the
// pattern.
std::string new_worker_id(const std::string& name) {
  return "worker-" + auth::random_hex(6) + "-" + name;
}
std::string new_fencing_token() { return "lease-" + auth::random_hex(16); }

RpcError unknown_worker(const std::string& worker_id) {
  return RpcError(grpc::StatusCode::NOT_FOUND, "worker_id: unknown worker " + worker_id);
}

}  // namespace

std::string JobStore::register_worker(const v1::RegisterWorkerRequest& request,
                                      const std::string& owner) {
  std::lock_guard lock(mutex_);
  const std::string id = new_worker_id(request.name());
  Statement insert(db_,
                   "INSERT INTO workers (id, name, device, memory_bytes, registered_ms, "
                   "last_heartbeat_ms, token_id) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)");
  insert.bind(1, id)
      .bind(2, request.name())
      .bind(3, request.device())
      .bind(4, request.memory_bytes())
      .bind(5, now_unix_ms())
      .bind(6, owner);
  insert.step();
  return id;
}

void JobStore::require_worker_owner(const std::string& worker_id, const std::string& owner) {
  Statement query(db_, "SELECT token_id FROM workers WHERE id=?1");
  query.bind(1, worker_id);
  // Another token's worker answers like an unknown one.
  if (!query.step() || query.text(0) != owner) throw unknown_worker(worker_id);
}

void JobStore::require_holder(const v1::Lease& lease, const std::string& owner) {
  std::lock_guard lock(mutex_);
  Statement query(db_,
                  "SELECT workers.token_id FROM jobs JOIN workers ON jobs.worker = workers.id "
                  "WHERE jobs.id=?1");
  query.bind(1, lease.job_id());
  if (!query.step() || query.text(0) != owner) {
    throw stale_lease(lease, "not held by this worker");
  }
}

void JobStore::require_holder_or_member(const v1::Lease& lease, const std::string& owner) {
  {
    std::lock_guard lock(mutex_);
    if (holds_member_lease(lease, owner)) return;
  }
  require_holder(lease, owner);
  require_current(lease);
}

v1::Job JobStore::current_job(const v1::Lease& lease) {
  const auto job = load_job(lease.job_id());
  Statement query(db_, "SELECT lease_token, lease_expires_ms FROM jobs WHERE id=?1");
  query.bind(1, lease.job_id());
  query.step();
  if (job.state() == v1::CANCELLED) throw stale_lease(lease, "the job was cancelled");
  if (job.state() != v1::RUNNING) {
    throw stale_lease(lease, "the job is " + v1::JobState_Name(job.state()));
  }
  if (lease.fencing_token().empty() ||
      !auth::constant_time_equal(query.text(0), lease.fencing_token())) {
    throw stale_lease(lease, "the lease expired and was given to another attempt");
  }
  if (query.integer(1) < now_unix_ms()) throw stale_lease(lease, "the lease expired");
  return job;
}

void JobStore::require_current(const v1::Lease& lease) {
  std::lock_guard lock(mutex_);
  current_job(lease);
}

v1::LeaseStatus JobStore::heartbeat(const std::string& worker_id, const std::string& owner,
                                    const v1::Lease* lease, int64_t lease_ms) {
  std::lock_guard lock(mutex_);
  Transaction transaction(db_);
  require_worker_owner(worker_id, owner);
  Statement seen(db_, "UPDATE workers SET last_heartbeat_ms=?2 WHERE id=?1");
  seen.bind(1, worker_id).bind(2, now_unix_ms());
  seen.step();
  v1::LeaseStatus status;
  if (lease != nullptr && !lease->job_id().empty() &&
      !renew_member(worker_id, *lease, lease_ms, status)) {
    try {
      if (current_job(*lease).worker() != worker_id) throw stale_lease(*lease, "another worker's");
      const int64_t expires = now_unix_ms() + lease_ms;
      Statement extend(db_, "UPDATE jobs SET lease_expires_ms=?2 WHERE id=?1");
      extend.bind(1, lease->job_id()).bind(2, expires);
      extend.step();
      status.set_valid(true);
      status.set_expires_unix_ms(expires);
    } catch (const RpcError&) {
      status.set_valid(false);
      status.set_cancelled(load_job(lease->job_id()).state() == v1::CANCELLED);
    }
  }
  transaction.commit();
  return status;
}

std::optional<Assignment> JobStore::acquire(const std::string& worker_id, const std::string& owner,
                                            int64_t lease_ms, const GangPlacement& placement) {
  std::lock_guard lock(mutex_);
  Transaction transaction(db_);
  require_worker_owner(worker_id, owner);
  if (auto seat = deliver_seat(worker_id)) {
    transaction.commit();
    changed();
    return seat;
  }
  Statement next(db_,
                 "SELECT id, checkpoint_sha, checkpoint_step, workers, min_workers, attempts "
                 "FROM jobs WHERE state=?1 AND not_before_ms<=?2 ORDER BY priority DESC, seq "
                 "LIMIT 100");
  next.bind(1, static_cast<int>(v1::QUEUED)).bind(2, now_unix_ms());
  struct Queued {
    std::string id, checkpoint_sha;
    int64_t checkpoint_step, workers, min_workers, attempts;
  };
  std::vector<Queued> queue;
  while (next.step()) {
    queue.push_back({next.text(0), next.text(1), next.integer(2), next.integer(3), next.integer(4),
                     next.integer(5)});
  }
  std::optional<std::vector<std::string>> idle;  // looked up once, when a gang is wanted
  for (const auto& job : queue) {
    const int64_t wanted = job.workers;
    // A fresh job takes its whole gang; a resumed one may continue on `min_workers`.
    const int64_t needed = job.checkpoint_step > 0 ? job.min_workers : wanted;
    std::vector<std::string> members;
    if (wanted > 1) {
      if (!idle) {
        idle = idle_workers(worker_id, placement.member_heard_within_ms > 0
                                           ? placement.member_heard_within_ms
                                           : lease_ms);
      }
      const int64_t available = 1 + static_cast<int64_t>(idle->size());
      if (available < needed) continue;  // not now: the next job that fits goes first
      members.assign(idle->begin(), idle->begin() + (std::min(wanted, available) - 1));
    }
    const std::string& id = job.id;
    const int64_t resume_step = job.checkpoint_step;
    Assignment assignment;
    assignment.checkpoint_sha = job.checkpoint_sha;
    assignment.fencing_token = new_fencing_token();
    const int64_t now = now_unix_ms();
    assignment.lease_expires_ms = now + lease_ms;
    Statement update(db_,
                     "UPDATE jobs SET state=?2, worker=?3, lease_token=?4, lease_expires_ms=?5, "
                     "attempts=attempts+1, resumed_from_step=?6, step=?6, attempt_started_ms=?7, "
                     "started_ms=CASE WHEN started_ms=0 THEN ?7 ELSE started_ms END, "
                     "eta_seconds=-1, waiting_for='', not_before_ms=0 WHERE id=?1");
    update.bind(1, id)
        .bind(2, static_cast<int>(v1::RUNNING))
        .bind(3, worker_id)
        .bind(4, assignment.fencing_token)
        .bind(5, assignment.lease_expires_ms)
        .bind(6, resume_step)
        .bind(7, now);
    update.step();
    // A fresh port each attempt, so a store left behind by the last one is not in the way.
    const int64_t port =
        placement.first_port +
        static_cast<int64_t>((std::hash<std::string>()(id) + placement.port_salt + job.attempts) %
                             static_cast<uint64_t>(placement.ports));
    seat_gang(id, members, lease_ms,
              members.empty() ? "" : placement.host + ":" + std::to_string(port));
    log_event(id, "STATE",
              "RUNNING on " + worker_id + " from step " + std::to_string(resume_step) +
                  (members.empty() ? "" : " with " + std::to_string(members.size()) + " more"));
    assignment.job = load_job(id);
    transaction.commit();
    changed();
    return assignment;
  }
  return std::nullopt;
}

v1::LeaseStatus JobStore::report_progress(const v1::Lease& lease, const Progress& progress) {
  std::lock_guard lock(mutex_);
  Transaction transaction(db_);
  const auto job = current_job(lease);
  Statement timing(db_, "SELECT attempt_started_ms, lease_expires_ms FROM jobs WHERE id=?1");
  timing.bind(1, lease.job_id());
  timing.step();
  // ETA from this attempt's own pace (a resumed attempt starts counting at its checkpoint).
  const double elapsed_s = static_cast<double>(now_unix_ms() - timing.integer(0)) / 1000.0;
  const int64_t done = progress.step - job.resumed_from_step();
  const double eta =
      done > 0 && elapsed_s > 0
          ? static_cast<double>(progress.total_steps - progress.step) * elapsed_s / done
          : -1.0;
  Statement update(db_,
                   "UPDATE jobs SET stage=?2, step=?3, total_steps=?4, loss=?5, "
                   "expected_latency_ms=?6, normalized_entropy=?7, eta_seconds=?8, waiting_for=?9 "
                   "WHERE id=?1");
  update.bind(1, lease.job_id())
      .bind(2, progress.stage)
      .bind(3, progress.step)
      .bind(4, progress.total_steps)
      .bind(5, progress.loss)
      .bind(6, progress.expected_latency_ms)
      .bind(7, progress.normalized_entropy)
      .bind(8, eta)
      .bind(9, progress.waiting_for);
  update.step();
  if (progress.stage != job.stage()) log_event(lease.job_id(), "STAGE", progress.stage);
  if (progress.waiting_for != job.waiting_for()) {
    log_event(lease.job_id(), "WAIT",
              progress.waiting_for.empty() ? "resumed" : "waiting for " + progress.waiting_for);
  }
  v1::LeaseStatus status;
  status.set_valid(true);
  status.set_expires_unix_ms(timing.integer(1));
  transaction.commit();
  search_metrics().record_progress(lease.job_id(), progress);
  changed();
  return status;
}

std::string JobStore::record_checkpoint(const v1::Lease& lease, int64_t step,
                                        const std::string& sha256) {
  std::lock_guard lock(mutex_);
  Transaction transaction(db_);
  current_job(lease);
  Statement previous(db_, "SELECT checkpoint_sha FROM jobs WHERE id=?1");
  previous.bind(1, lease.job_id());
  previous.step();
  const std::string replaced = previous.text(0);
  // Progress reports are throttled; an acknowledged checkpoint is progress too.
  Statement update(db_,
                   "UPDATE jobs SET checkpoint_step=?2, checkpoint_sha=?3, step=MAX(step, ?2) "
                   "WHERE id=?1");
  update.bind(1, lease.job_id()).bind(2, step).bind(3, sha256);
  update.step();
  log_event(lease.job_id(), "CHECKPOINT", std::to_string(step) + " " + sha256);
  transaction.commit();
  changed();
  return replaced == sha256 ? "" : replaced;
}

std::string JobStore::checkpoint_sha(const std::string& job_id) {
  std::lock_guard lock(mutex_);
  load_job(job_id);
  Statement query(db_, "SELECT checkpoint_sha FROM jobs WHERE id=?1");
  query.bind(1, job_id);
  query.step();
  return query.text(0);
}

v1::Model JobStore::complete(const v1::Lease& lease, const NewModel& model) {
  std::lock_guard lock(mutex_);
  Transaction transaction(db_);
  current_job(lease);
  auto registered = insert_model(model);
  Statement update(db_,
                   "UPDATE jobs SET state=?2, model=?3, lease_token='', eta_seconds=0, "
                   "finished_ms=?4, step=total_steps WHERE id=?1");
  update.bind(1, lease.job_id())
      .bind(2, static_cast<int>(v1::SUCCEEDED))
      .bind(3, registered.id())
      .bind(4, now_unix_ms());
  update.step();
  log_event(lease.job_id(), "STATE", "SUCCEEDED model " + registered.id());
  transaction.commit();
  changed();
  return registered;
}

void JobStore::end_attempt(const v1::Job& job, const std::string& reason, bool retryable) {
  const bool give_up = !retryable || job.attempts() >= job.max_attempts();
  const v1::JobState next = give_up ? v1::FAILED : v1::QUEUED;
  const std::string why = give_up && retryable
                              ? reason + " (attempt " + std::to_string(job.attempts()) + " of " +
                                    std::to_string(job.max_attempts()) + ")"
                              : reason;
  // The next attempt waits 2 s, 4 s, 8 s ... (at most 5 minutes): never back to back.
  const int64_t backoff_ms =
      std::min<int64_t>(int64_t{2000} << std::min(job.attempts() - 1, 20), 300'000);
  Statement update(db_,
                   "UPDATE jobs SET state=?2, lease_token='', worker='', eta_seconds=-1, "
                   "failure_reason=?3, finished_ms=?4, waiting_for='', not_before_ms=?5 "
                   "WHERE id=?1");
  update.bind(1, job.id())
      .bind(2, static_cast<int>(next))
      .bind(3, why)
      .bind(4, give_up ? now_unix_ms() : int64_t{0})
      .bind(5, give_up ? int64_t{0} : now_unix_ms() + backoff_ms);
  update.step();
  log_event(job.id(), "STATE", v1::JobState_Name(next) + ": " + why);
}

v1::LeaseStatus JobStore::fail(const v1::Lease& lease, const std::string& reason, bool retryable) {
  std::lock_guard lock(mutex_);
  Transaction transaction(db_);
  if (const auto member = current_member(lease)) {
    // Said now, the gang's attempt ends with the member's own reason instead of its lease lapsing
    // later (or rank 0 timing out in a collective) with none.
    end_attempt(load_job(lease.job_id()), *member + ": " + reason, retryable);
  } else {
    end_attempt(current_job(lease), reason, retryable);
  }
  transaction.commit();
  changed();
  return v1::LeaseStatus();
}

int JobStore::expire_leases() {
  std::lock_guard lock(mutex_);
  Transaction transaction(db_);
  Statement expired(db_, "SELECT id FROM jobs WHERE state=?1 AND lease_expires_ms < ?2");
  expired.bind(1, static_cast<int>(v1::RUNNING)).bind(2, now_unix_ms());
  std::map<std::string, std::string> lapsed;  // job → the worker whose lease lapsed
  while (expired.step()) lapsed[expired.text(0)] = "";
  // A gang trains together: one member gone ends the whole gang's attempt.
  for (const auto& [job_id, member] : lapsed_members()) lapsed.emplace(job_id, member);
  std::vector<std::string> ids;
  for (const auto& [id, member] : lapsed) {
    const auto job = load_job(id);
    end_attempt(job,
                "lease of " + (member.empty() ? job.worker() : member) + " expired (no heartbeat)",
                true);
    ids.push_back(id);
  }
  transaction.commit();
  if (!ids.empty()) changed();
  return static_cast<int>(ids.size());
}

}  // namespace ern::server
