#include "server/job_store.h"

#include <chrono>
#include <cstdio>

#include "common/rpc_error.h"
#include "server/search_metrics.h"

namespace ern::server {
namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS jobs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT UNIQUE NOT NULL,
  name TEXT NOT NULL, team TEXT NOT NULL, priority INTEGER NOT NULL, device TEXT NOT NULL,
  spec_yaml TEXT NOT NULL, state INTEGER NOT NULL, stage TEXT NOT NULL DEFAULT '',
  step INTEGER NOT NULL DEFAULT 0, total_steps INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL,
  checkpoint_step INTEGER NOT NULL DEFAULT 0, checkpoint_sha TEXT NOT NULL DEFAULT '',
  resumed_from_step INTEGER NOT NULL DEFAULT 0, worker TEXT NOT NULL DEFAULT '',
  lease_token INTEGER NOT NULL DEFAULT 0, lease_expires_ms INTEGER NOT NULL DEFAULT 0,
  model TEXT NOT NULL DEFAULT '', failure_reason TEXT NOT NULL DEFAULT '',
  loss REAL NOT NULL DEFAULT 0, expected_latency_ms REAL NOT NULL DEFAULT 0,
  normalized_entropy REAL NOT NULL DEFAULT 0, eta_seconds REAL NOT NULL DEFAULT -1,
  attempt_started_ms INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL,
  started_ms INTEGER NOT NULL DEFAULT 0, finished_ms INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS jobs_queue ON jobs (state, priority DESC, seq);
CREATE TABLE IF NOT EXISTS workers (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, device TEXT NOT NULL, memory_bytes INTEGER NOT NULL,
  registered_ms INTEGER NOT NULL, last_heartbeat_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS models (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT UNIQUE NOT NULL, name TEXT UNIQUE NOT NULL, source TEXT NOT NULL, team TEXT NOT NULL,
  job_id TEXT NOT NULL, spec_yaml TEXT NOT NULL, architecture_json TEXT NOT NULL,
  report_json TEXT NOT NULL, params INTEGER NOT NULL, sha256 TEXT NOT NULL,
  created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, job_id TEXT NOT NULL, at_ms INTEGER NOT NULL,
  kind TEXT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_by_job ON events (job_id, seq);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
)sql";

constexpr char kJobColumns[] =
    "id, name, team, priority, device, spec_yaml, state, stage, step, total_steps, attempts, "
    "max_attempts, checkpoint_step, resumed_from_step, worker, model, failure_reason, loss, "
    "expected_latency_ms, normalized_entropy, eta_seconds, created_ms, started_ms, finished_ms, "
    "lease_token, lease_expires_ms";

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
  return job;
}

bool is_terminal(v1::JobState state) {
  return state == v1::SUCCEEDED || state == v1::FAILED || state == v1::CANCELLED;
}

RpcError stale_lease(const v1::Lease& lease, const std::string& why) {
  return RpcError(grpc::StatusCode::FAILED_PRECONDITION,
                  "lease.fencing_token: " + std::to_string(lease.fencing_token()) +
                      " is not current for job " + lease.job_id() + " (" + why + ")");
}

}  // namespace

std::string numbered_id(const char* prefix, int64_t number) {
  char id[32];
  std::snprintf(id, sizeof(id), "%s-%06lld", prefix, static_cast<long long>(number));
  return id;
}

// "job-000042": ids follow the table's row sequence (rows are never deleted, so never reused).
std::string next_id(SqliteDatabase& db, const std::string& table, const char* prefix) {
  Statement next(db, ("SELECT COALESCE(MAX(seq), 0) + 1 FROM " + table).c_str());
  next.step();
  return numbered_id(prefix, next.integer(0));
}

int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

JobStore::JobStore(const std::filesystem::path& database) : db_(database, kSchema) {
  add_model_columns();
}

void JobStore::changed() {
  {
    std::lock_guard lock(version_mutex_);
    ++version_;
  }
  version_changed_.notify_all();
}

uint64_t JobStore::version() {
  std::lock_guard lock(version_mutex_);
  return version_;
}

uint64_t JobStore::wait_for_change(uint64_t seen_version, int64_t timeout_ms) {
  std::unique_lock lock(version_mutex_);
  version_changed_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                            [&] { return version_ != seen_version; });
  return version_;
}

void JobStore::log_event(const std::string& job_id, const std::string& kind,
                         const std::string& detail) {
  const int64_t now = now_unix_ms();
  if (kind == "STATE" || kind == "STAGE") record_event_metrics(job_id, kind, detail, now);
  Statement insert(db_, "INSERT INTO events (job_id, at_ms, kind, detail) VALUES (?1, ?2, ?3, ?4)");
  insert.bind(1, job_id).bind(2, now).bind(3, kind).bind(4, detail);
  insert.step();
}

void JobStore::record_event_metrics(const std::string& job_id, const std::string& kind,
                                    const std::string& detail, int64_t now) {
  auto& metrics = search_metrics();
  // The event this one ends: the job's previous state or stage change.
  Statement previous(db_,
                     "SELECT kind, detail, at_ms FROM events WHERE job_id=?1 AND kind IN "
                     "('STATE', 'STAGE') ORDER BY seq DESC LIMIT 1");
  previous.bind(1, job_id);
  const bool has_previous = previous.step();
  const double seconds_since =
      has_previous ? static_cast<double>(now - previous.integer(2)) / 1000.0 : 0.0;
  const bool previous_was_stage = has_previous && previous.text(0) == "STAGE";
  if (previous_was_stage) metrics.stage_duration.with({previous.text(1)}).observe(seconds_since);
  if (kind == "STAGE") return;

  const std::string state = detail.substr(0, detail.find_first_of(" :"));
  metrics.transitions.with({state}).inc();
  if (state == "RUNNING" && has_previous) {
    metrics.queue_wait.observe(seconds_since);
  } else if (state != "RUNNING") {
    metrics.forget_job(job_id);  // not running any more (requeued or ended)
  }
  if (state == "SUCCEEDED" || state == "FAILED" || state == "CANCELLED") {
    Statement attempts(db_, "SELECT attempts FROM jobs WHERE id=?1");
    attempts.bind(1, job_id);
    if (attempts.step()) metrics.attempts.observe(static_cast<double>(attempts.integer(0)));
  }
}

std::map<v1::JobState, int64_t> JobStore::job_counts() {
  std::lock_guard lock(mutex_);
  Statement query(db_, "SELECT state, COUNT(*) FROM jobs GROUP BY state");
  std::map<v1::JobState, int64_t> counts;
  while (query.step()) counts[static_cast<v1::JobState>(query.integer(0))] = query.integer(1);
  return counts;
}

WorkerCounts JobStore::worker_counts(int64_t live_within_ms) {
  std::lock_guard lock(mutex_);
  Statement query(db_,
                  "SELECT last_heartbeat_ms >= ?1, EXISTS (SELECT 1 FROM jobs WHERE "
                  "jobs.worker=workers.id AND jobs.state=?2) FROM workers");
  query.bind(1, now_unix_ms() - live_within_ms).bind(2, static_cast<int>(v1::RUNNING));
  WorkerCounts counts;
  while (query.step()) {
    if (query.integer(0) == 0) {
      ++counts.lost;
    } else {
      ++counts.live;
      counts.busy += query.integer(1);
    }
  }
  return counts;
}

v1::Job JobStore::load_job(const std::string& id) {
  Statement query(db_, (std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id=?1").c_str());
  query.bind(1, id);
  if (!query.step()) throw RpcError(grpc::StatusCode::NOT_FOUND, "id: no job " + id);
  return job_from_row(query);
}

v1::Job JobStore::submit(const NewJob& job) {
  std::lock_guard lock(mutex_);
  Transaction transaction(db_);
  const std::string id = next_id(db_, "jobs", "job");
  Statement insert(db_,
                   "INSERT INTO jobs (id, name, team, priority, device, spec_yaml, state, "
                   "total_steps, max_attempts, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
                   "?8, ?9, ?10)");
  insert.bind(1, id)
      .bind(2, job.name)
      .bind(3, job.team)
      .bind(4, job.priority)
      .bind(5, job.device)
      .bind(6, job.spec_yaml)
      .bind(7, static_cast<int>(v1::QUEUED))
      .bind(8, job.total_steps)
      .bind(9, job.max_attempts)
      .bind(10, now_unix_ms());
  insert.step();
  log_event(id, "STATE", "QUEUED");
  auto submitted = load_job(id);
  transaction.commit();
  changed();
  return submitted;
}

v1::Job JobStore::job(const std::string& id) {
  std::lock_guard lock(mutex_);
  return load_job(id);
}

ListedJobs JobStore::list(v1::JobState state, const std::string& team, int page_size,
                          const std::string& page_token) {
  int64_t before = INT64_MAX;
  if (!page_token.empty()) {
    try {
      before = std::stoll(page_token);
    } catch (const std::exception&) {
      throw std::invalid_argument("page_token: not a token from a previous ListJobs");
    }
  }
  std::lock_guard lock(mutex_);
  Statement query(db_, (std::string("SELECT ") + kJobColumns +
                        ", seq FROM jobs WHERE seq < ?1 AND (?2 = 0 OR state = ?2) AND (?3 = '' "
                        "OR team = ?3) ORDER BY seq DESC LIMIT ?4")
                           .c_str());
  query.bind(1, before).bind(2, static_cast<int>(state)).bind(3, team).bind(4, page_size + 1);
  ListedJobs listed;
  int64_t last_seq = 0;
  while (query.step()) {
    if (static_cast<int>(listed.jobs.size()) == page_size) {
      listed.next_page_token = std::to_string(last_seq);
      break;
    }
    listed.jobs.push_back(job_from_row(query));
    last_seq = query.integer(26);
  }
  return listed;
}

v1::Job JobStore::cancel(const std::string& id) {
  std::lock_guard lock(mutex_);
  Transaction transaction(db_);
  const auto job = load_job(id);
  if (is_terminal(job.state())) {
    throw RpcError(grpc::StatusCode::FAILED_PRECONDITION,
                   "id: job " + id + " already ended " + v1::JobState_Name(job.state()));
  }
  Statement update(db_,
                   "UPDATE jobs SET state=?2, lease_token=0, eta_seconds=-1, finished_ms=?3 "
                   "WHERE id=?1");
  update.bind(1, id).bind(2, static_cast<int>(v1::CANCELLED)).bind(3, now_unix_ms());
  update.step();
  log_event(id, "STATE", "CANCELLED");
  auto cancelled = load_job(id);
  transaction.commit();
  changed();
  return cancelled;
}

std::string JobStore::register_worker(const v1::RegisterWorkerRequest& request) {
  std::lock_guard lock(mutex_);
  Transaction transaction(db_);
  Statement count(db_, "SELECT COUNT(*) + 1 FROM workers");
  count.step();
  const std::string id = numbered_id("worker", count.integer(0)) + "-" + request.name();
  Statement insert(db_,
                   "INSERT OR REPLACE INTO workers (id, name, device, memory_bytes, "
                   "registered_ms, last_heartbeat_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?5)");
  insert.bind(1, id)
      .bind(2, request.name())
      .bind(3, request.device())
      .bind(4, request.memory_bytes())
      .bind(5, now_unix_ms());
  insert.step();
  transaction.commit();
  return id;
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
  if (query.integer(0) != lease.fencing_token()) {
    throw stale_lease(lease, "the lease expired and was given to another attempt");
  }
  if (query.integer(1) < now_unix_ms()) throw stale_lease(lease, "the lease expired");
  return job;
}

void JobStore::require_current(const v1::Lease& lease) {
  std::lock_guard lock(mutex_);
  current_job(lease);
}

v1::LeaseStatus JobStore::heartbeat(const std::string& worker_id, const v1::Lease* lease,
                                    int64_t lease_ms) {
  std::lock_guard lock(mutex_);
  Transaction transaction(db_);
  Statement seen(db_, "UPDATE workers SET last_heartbeat_ms=?2 WHERE id=?1");
  seen.bind(1, worker_id).bind(2, now_unix_ms());
  seen.step();
  if (sqlite3_changes(db_.handle()) == 0) {
    throw RpcError(grpc::StatusCode::NOT_FOUND, "worker_id: unknown worker " + worker_id);
  }
  v1::LeaseStatus status;
  if (lease != nullptr && !lease->job_id().empty()) {
    try {
      current_job(*lease);
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

int64_t JobStore::next_fencing_token() {
  Statement bump(db_,
                 "INSERT INTO settings (key, value) VALUES ('fencing_token', '1') ON CONFLICT(key) "
                 "DO UPDATE SET value = CAST(value AS INTEGER) + 1");
  bump.step();
  Statement read(db_, "SELECT CAST(value AS INTEGER) FROM settings WHERE key='fencing_token'");
  read.step();
  return read.integer(0);
}

std::optional<Assignment> JobStore::acquire(const std::string& worker_id, int64_t lease_ms) {
  std::lock_guard lock(mutex_);
  Transaction transaction(db_);
  Statement known(db_, "SELECT COUNT(*) FROM workers WHERE id=?1");
  known.bind(1, worker_id);
  known.step();
  if (known.integer(0) == 0) {
    throw RpcError(grpc::StatusCode::NOT_FOUND, "worker_id: unknown worker " + worker_id);
  }
  Statement next(db_,
                 "SELECT id, checkpoint_sha, checkpoint_step FROM jobs WHERE state=?1 ORDER BY "
                 "priority DESC, seq LIMIT 1");
  next.bind(1, static_cast<int>(v1::QUEUED));
  if (!next.step()) return std::nullopt;
  const std::string id = next.text(0);
  Assignment assignment;
  assignment.checkpoint_sha = next.text(1);
  const int64_t resume_step = next.integer(2);
  assignment.fencing_token = next_fencing_token();
  const int64_t now = now_unix_ms();
  assignment.lease_expires_ms = now + lease_ms;
  Statement update(db_,
                   "UPDATE jobs SET state=?2, worker=?3, lease_token=?4, lease_expires_ms=?5, "
                   "attempts=attempts+1, resumed_from_step=?6, step=?6, attempt_started_ms=?7, "
                   "started_ms=CASE WHEN started_ms=0 THEN ?7 ELSE started_ms END, "
                   "eta_seconds=-1 WHERE id=?1");
  update.bind(1, id)
      .bind(2, static_cast<int>(v1::RUNNING))
      .bind(3, worker_id)
      .bind(4, assignment.fencing_token)
      .bind(5, assignment.lease_expires_ms)
      .bind(6, resume_step)
      .bind(7, now);
  update.step();
  log_event(id, "STATE", "RUNNING on " + worker_id + " from step " + std::to_string(resume_step));
  assignment.job = load_job(id);
  transaction.commit();
  changed();
  return assignment;
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
                   "expected_latency_ms=?6, normalized_entropy=?7, eta_seconds=?8 WHERE id=?1");
  update.bind(1, lease.job_id())
      .bind(2, progress.stage)
      .bind(3, progress.step)
      .bind(4, progress.total_steps)
      .bind(5, progress.loss)
      .bind(6, progress.expected_latency_ms)
      .bind(7, progress.normalized_entropy)
      .bind(8, eta);
  update.step();
  if (progress.stage != job.stage()) log_event(lease.job_id(), "STAGE", progress.stage);
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
                   "UPDATE jobs SET state=?2, model=?3, lease_token=0, eta_seconds=0, "
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
  Statement update(db_,
                   "UPDATE jobs SET state=?2, lease_token=0, worker='', eta_seconds=-1, "
                   "failure_reason=?3, finished_ms=?4 WHERE id=?1");
  update.bind(1, job.id())
      .bind(2, static_cast<int>(next))
      .bind(3, why)
      .bind(4, give_up ? now_unix_ms() : int64_t{0});
  update.step();
  log_event(job.id(), "STATE", v1::JobState_Name(next) + ": " + why);
}

v1::LeaseStatus JobStore::fail(const v1::Lease& lease, const std::string& reason, bool retryable) {
  std::lock_guard lock(mutex_);
  Transaction transaction(db_);
  end_attempt(current_job(lease), reason, retryable);
  transaction.commit();
  changed();
  return v1::LeaseStatus();
}

int JobStore::expire_leases() {
  std::lock_guard lock(mutex_);
  Transaction transaction(db_);
  Statement expired(db_, "SELECT id FROM jobs WHERE state=?1 AND lease_expires_ms < ?2");
  expired.bind(1, static_cast<int>(v1::RUNNING)).bind(2, now_unix_ms());
  std::vector<std::string> ids;
  while (expired.step()) ids.push_back(expired.text(0));
  for (const auto& id : ids) {
    const auto job = load_job(id);
    end_attempt(job, "lease of " + job.worker() + " expired (no heartbeat)", true);
  }
  transaction.commit();
  if (!ids.empty()) changed();
  return static_cast<int>(ids.size());
}

}  // namespace ern::server
