#include "server/job_store.h"

#include <chrono>
#include <cstdio>

#include "common/quota_refusal.h"
#include "common/rpc_error.h"
#include "server/job_rows.h"
#include "server/quotas.h"
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
  lease_token TEXT NOT NULL DEFAULT '', lease_expires_ms INTEGER NOT NULL DEFAULT 0,
  model TEXT NOT NULL DEFAULT '', failure_reason TEXT NOT NULL DEFAULT '',
  loss REAL NOT NULL DEFAULT 0, expected_latency_ms REAL NOT NULL DEFAULT 0,
  normalized_entropy REAL NOT NULL DEFAULT 0, eta_seconds REAL NOT NULL DEFAULT -1,
  attempt_started_ms INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL,
  started_ms INTEGER NOT NULL DEFAULT 0, finished_ms INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS jobs_queue ON jobs (state, priority DESC, seq);
CREATE TABLE IF NOT EXISTS workers (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, device TEXT NOT NULL, memory_bytes INTEGER NOT NULL,
  registered_ms INTEGER NOT NULL, last_heartbeat_ms INTEGER NOT NULL,
  token_id TEXT NOT NULL DEFAULT '');
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
CREATE TABLE IF NOT EXISTS gang_members (
  job_id TEXT NOT NULL, rank INTEGER NOT NULL, worker TEXT NOT NULL, lease_token TEXT NOT NULL,
  lease_expires_ms INTEGER NOT NULL, delivered INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (job_id, rank));
)sql";

// Columns added after the first schema, with their definitions.
struct AddedColumn {
  const char* table;
  const char* name;
  const char* definition;
};
constexpr AddedColumn kAddedColumns[] = {
    {"models", "quality_json", "TEXT NOT NULL DEFAULT ''"},
    {"models", "lineage_json", "TEXT NOT NULL DEFAULT ''"},
    {"models", "promotion", "TEXT NOT NULL DEFAULT ''"},
    {"workers", "token_id", "TEXT NOT NULL DEFAULT ''"},
    {"jobs", "waiting_for", "TEXT NOT NULL DEFAULT ''"},
    {"jobs", "not_before_ms", "INTEGER NOT NULL DEFAULT 0"},
    {"jobs", "workers", "INTEGER NOT NULL DEFAULT 1"},
    {"jobs", "min_workers", "INTEGER NOT NULL DEFAULT 1"},
    {"jobs", "world_size", "INTEGER NOT NULL DEFAULT 1"},
    {"jobs", "rendezvous", "TEXT NOT NULL DEFAULT ''"},
    {"jobs", "sweep", "TEXT NOT NULL DEFAULT ''"},
};

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
  add_columns();
}

void JobStore::add_columns() {
  std::lock_guard lock(mutex_);
  for (const auto& column : kAddedColumns) {
    Statement present(db_, "SELECT COUNT(*) FROM pragma_table_info(?1) WHERE name=?2");
    present.bind(1, std::string(column.table)).bind(2, std::string(column.name));
    present.step();
    if (present.integer(0) == 0) {
      db_.exec(std::string("ALTER TABLE ") + column.table + " ADD COLUMN " + column.name + " " +
               column.definition);
    }
  }
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
  auto job = job_from_row(query);
  if (job.world_size() > 1) {
    for (const auto& member : gang_of(id)) job.add_gang_workers(member);
  }
  return job;
}

v1::Job JobStore::submit(const NewJob& job, int64_t max_active_jobs) {
  std::lock_guard lock(mutex_);
  Transaction transaction(db_);
  if (max_active_jobs > 0) {
    Statement active(db_, "SELECT COUNT(*) FROM jobs WHERE team=?1 AND state IN (?2, ?3)");
    active.bind(1, job.team)
        .bind(2, static_cast<int>(v1::QUEUED))
        .bind(3, static_cast<int>(v1::RUNNING));
    active.step();
    if (active.integer(0) >= max_active_jobs) {
      refuse_over_quota("max_active_jobs", "team " + job.team + " has " +
                                               std::to_string(active.integer(0)) +
                                               " queued or running jobs, its limit (quotas.teams." +
                                               job.team + ".max_active_jobs)");
    }
  }
  const std::string id = next_id(db_, "jobs", "job");
  Statement insert(
      db_,
      "INSERT INTO jobs (id, name, team, priority, device, spec_yaml, state, "
      "total_steps, max_attempts, created_ms, workers, min_workers, sweep) VALUES (?1, "
      "?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)");
  insert.bind(1, id)
      .bind(2, job.name)
      .bind(3, job.team)
      .bind(4, job.priority)
      .bind(5, job.device)
      .bind(6, job.spec_yaml)
      .bind(7, static_cast<int>(v1::QUEUED))
      .bind(8, job.total_steps)
      .bind(9, job.max_attempts)
      .bind(10, now_unix_ms())
      .bind(11, job.workers)
      .bind(12, job.min_workers)
      .bind(13, job.sweep);
  insert.step();
  log_event(id, "STATE", "QUEUED");
  auto submitted = load_job(id);
  transaction.commit();
  changed();
  return submitted;
}

TeamArtifacts JobStore::team_artifacts(const std::string& team) {
  std::lock_guard lock(mutex_);
  TeamArtifacts stored;
  Statement jobs(db_, "SELECT id FROM jobs WHERE team=?1");
  jobs.bind(1, team);
  while (jobs.step()) stored.job_ids.push_back(jobs.text(0));
  Statement models(db_, "SELECT sha256 FROM models WHERE team=?1");
  models.bind(1, team);
  while (models.step()) stored.model_sha256s.push_back(models.text(0));
  return stored;
}

v1::Job JobStore::job(const std::string& id) {
  std::lock_guard lock(mutex_);
  return load_job(id);
}

ListedJobs JobStore::list(v1::JobState state, const std::string& team, const std::string& sweep,
                          int page_size, const std::string& page_token) {
  const int64_t before = rows_before_page_token(page_token, "ListJobs");
  std::lock_guard lock(mutex_);
  Statement query(db_, (std::string("SELECT ") + kJobColumns +
                        ", seq FROM jobs WHERE seq < ?1 AND (?2 = 0 OR state = ?2) AND (?3 = '' "
                        "OR team = ?3) AND (?5 = '' OR sweep = ?5) ORDER BY seq DESC LIMIT ?4")
                           .c_str());
  query.bind(1, before)
      .bind(2, static_cast<int>(state))
      .bind(3, team)
      .bind(4, page_size + 1)
      .bind(5, sweep);
  ListedJobs listed;
  int64_t last_seq = 0;
  while (query.step()) {
    if (static_cast<int>(listed.jobs.size()) == page_size) {
      listed.next_page_token = std::to_string(last_seq);
      break;
    }
    listed.jobs.push_back(job_from_row(query));
    last_seq = query.integer(kJobColumnCount);
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
                   "UPDATE jobs SET state=?2, lease_token='', eta_seconds=-1, finished_ms=?3 "
                   "WHERE id=?1");
  update.bind(1, id).bind(2, static_cast<int>(v1::CANCELLED)).bind(3, now_unix_ms());
  update.step();
  log_event(id, "STATE", "CANCELLED");
  auto cancelled = load_job(id);
  transaction.commit();
  changed();
  return cancelled;
}

}  // namespace ern::server
