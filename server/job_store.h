#pragma once
// The coordinator's durable state in SQLite (WAL): jobs with their lease and progress, workers,
// registered models, the default model, and an event log. Every state change is one transaction,
// so a coordinator killed at any moment restarts with every acknowledged job, checkpoint and model.
//
// Workers belong to the token that registered them. Leases: a job RUNNING on a worker holds a
// fencing token (128 random bits) and an expiry. Writes for the job must present the current token;
// when the lease expires or the job is cancelled the token stops being current, so a worker that
// lost its lease cannot write.
//
// Jobs and events are in job_store.cpp, workers and leases in lease_records.cpp, models in
// model_records.cpp.

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/sqlite.h"
#include "ern/v1/models.pb.h"
#include "ern/v1/search.pb.h"
#include "ern/v1/worker.pb.h"

namespace ern::server {

int64_t now_unix_ms();
// "job-000042": the next id of `table`, following its row sequence (rows are never deleted).
std::string next_id(SqliteDatabase& db, const std::string& table, const char* prefix);
std::string numbered_id(const char* prefix, int64_t number);

struct NewJob {
  std::string name;
  std::string team;
  std::string device;
  std::string spec_yaml;
  int priority = 0;
  int max_attempts = 3;
  int64_t total_steps = 0;
  int workers = 1;      // the gang it is leased to (training.workers)
  int min_workers = 1;  // a resumed attempt may run on as few
  std::string sweep;    // its sweep group; "" = none
};

// Where a gang meets: rank 0's host as the coordinator sees it, and a port from this range.
struct GangPlacement {
  std::string host = "127.0.0.1";
  int first_port = 29500;
  int ports = 500;
  // Mixed into the port a job's attempt gets: per coordinator process, so two coordinators on one
  // host (or two test runs side by side) do not send their first jobs to the same port.
  uint64_t port_salt = 0;
  // A member must have heartbeated this recently: a worker that died moments ago is still within
  // its lease, and a gang seated with it would only fail its attempt.
  int64_t member_heard_within_ms = 0;  // 0: within the lease duration
};

struct Assignment {
  v1::Job job;
  std::string fencing_token;
  std::string checkpoint_sha;  // empty: start fresh
  int64_t lease_expires_ms = 0;
  int rank = 0;  // in the job's gang (0: the job's own lease)
};

struct Progress {
  std::string stage;
  int64_t step = 0;
  int64_t total_steps = 0;
  double loss = 0.0;
  double expected_latency_ms = 0.0;
  double normalized_entropy = 0.0;
  std::string waiting_for;  // "" or "device farm"
};

struct NewModel {
  std::string name;
  std::string source;  // "search" or "import"
  std::string team;
  std::string job_id;
  std::string spec_yaml;
  std::string architecture_json;
  std::string report_json;
  int64_t params = 0;
  std::string sha256;
  v1::Lineage lineage;
  bool promote = false;  // becomes the default once scored, if it passes the quality gate
};

// Decides whether `candidate` may replace `current` as the default model; throws RpcError to
// refuse. Runs inside the transaction that changes the default.
using DefaultModelGate =
    std::function<void(const v1::Model& candidate, const std::optional<v1::Model>& current)>;

struct WorkerCounts {
  int64_t live = 0;  // heartbeat within the window
  int64_t busy = 0;  // live and holding a running job
  int64_t lost = 0;  // silent longer
};

struct ListedJobs {
  std::vector<v1::Job> jobs;
  std::string next_page_token;
};

// What a team stores: its jobs (their checkpoints) and its models' files.
struct TeamArtifacts {
  std::vector<std::string> job_ids;
  std::vector<std::string> model_sha256s;
};

struct ListedModels {
  std::vector<v1::Model> models;
  std::string next_page_token;
};

class JobStore {
 public:
  explicit JobStore(const std::filesystem::path& database);

  // RESOURCE_EXHAUSTED when the team already has `max_active_jobs` QUEUED or RUNNING jobs
  // (0: no limit).
  v1::Job submit(const NewJob& job, int64_t max_active_jobs = 0);
  TeamArtifacts team_artifacts(const std::string& team);
  // Throws RpcError NOT_FOUND.
  v1::Job job(const std::string& id);
  // Newest first; `team` and `sweep` filter when not empty.
  ListedJobs list(v1::JobState state, const std::string& team, const std::string& sweep,
                  int page_size, const std::string& page_token);
  // QUEUED or RUNNING → CANCELLED (the running worker's token stops being current).
  // FAILED_PRECONDITION for a job that already ended.
  v1::Job cancel(const std::string& id);

  // Blocks until any job changes after `seen_version` or the timeout; returns the new version.
  uint64_t wait_for_change(uint64_t seen_version, int64_t timeout_ms);
  uint64_t version();

  // Workers.
  // `owner`: the id of the token that registers it; only that token may act for the worker.
  std::string register_worker(const v1::RegisterWorkerRequest& request, const std::string& owner);
  // Keeps the worker alive and, with a current token, extends its lease by `lease_ms`.
  // NOT_FOUND for an unknown worker or one `owner` did not register.
  v1::LeaseStatus heartbeat(const std::string& worker_id, const std::string& owner,
                            const v1::Lease* lease, int64_t lease_ms);
  // A gang seat made for this worker, else the highest priority, then oldest QUEUED job whose
  // gang can be formed now (this worker as rank 0 and live idle workers for the other ranks, all
  // at once) → RUNNING with new tokens. Workers are live when seen within `lease_ms`.
  std::optional<Assignment> acquire(const std::string& worker_id, const std::string& owner,
                                    int64_t lease_ms, const GangPlacement& placement = {});
  // FAILED_PRECONDITION unless the job's lease is held by a worker `owner` registered.
  void require_holder(const v1::Lease& lease, const std::string& owner);
  // The job's current lease held by a worker `owner` registered, or a member lease of its gang
  // (members download the checkpoint too); FAILED_PRECONDITION otherwise.
  void require_holder_or_member(const v1::Lease& lease, const std::string& owner);
  v1::LeaseStatus report_progress(const v1::Lease& lease, const Progress& progress);
  // Throws RpcError FAILED_PRECONDITION unless `lease` is current.
  void require_current(const v1::Lease& lease);
  // Records an acknowledged checkpoint; returns the sha256 it replaces (empty if none).
  std::string record_checkpoint(const v1::Lease& lease, int64_t step, const std::string& sha256);
  std::string checkpoint_sha(const std::string& job_id);
  // The job SUCCEEDED and its model registered, in one transaction.
  v1::Model complete(const v1::Lease& lease, const NewModel& model);
  // Retryable failures go back to the queue until max_attempts; others end FAILED now. `lease` is
  // the job's own or a member lease of its gang: a member's failure ends the whole gang's attempt,
  // its reason prefixed with the member's rank and worker.
  v1::LeaseStatus fail(const v1::Lease& lease, const std::string& reason, bool retryable);
  // RUNNING jobs whose lease has expired go back to the queue (or FAILED after max_attempts).
  // Returns how many.
  int expire_leases();

  // For the metrics, at scrape time.
  std::map<v1::JobState, int64_t> job_counts();
  WorkerCounts worker_counts(int64_t live_within_ms);

  // Models (model_records.cpp).
  v1::Model add_model(const NewModel& model);
  std::vector<v1::Model> models();
  // A page of the models `visible` accepts, newest first, without their reports.
  ListedModels list_models(const std::function<bool(const v1::Model&)>& visible, int page_size,
                           const std::string& page_token);
  // Whether any registered model is stored under this hash.
  bool model_stored(const std::string& sha256);
  v1::Model model(const std::string& id_or_name);  // NOT_FOUND
  // `gate` (when set) may refuse by throwing.
  v1::Model set_default_model(const std::string& id_or_name, const DefaultModelGate& gate = {});
  std::optional<v1::Model> default_model();
  // Changes whenever a model is added or the default changes (a cheap query, for watchers).
  std::string registry_fingerprint();
  // What a serving replica needs of the newest `limit` models and of the default: id, name,
  // source, team, sha256, params, is_default and creation time.
  std::vector<v1::Model> serving_models(int limit);
  // Models with no score on `image_set_sha256` (never scored, or scored on another image set),
  // oldest first.
  std::vector<v1::Model> models_to_score(const std::string& image_set_sha256);
  void set_quality(const std::string& model_id, const v1::QualityScore& score);
  // Models waiting to be promoted (promotion "pending").
  std::vector<v1::Model> pending_promotions();
  // Records a promotion's outcome (the default itself changes through set_default_model).
  void finish_promotion(const std::string& model_id, bool promoted, const std::string& reason);

 private:
  v1::Job load_job(const std::string& id);
  v1::Model load_model(const std::string& id_or_name);
  // The models whose ids `id_query` selects, in its order.
  std::vector<v1::Model> load_models(const char* id_query);
  v1::Model insert_model(const NewModel& model);
  void add_columns();  // columns added after the first release, on older databases too
  void require_worker_owner(const std::string& worker_id, const std::string& owner);
  // Gangs (gang_records.cpp), with mutex_ held.
  std::vector<std::string> idle_workers(const std::string& except, int64_t live_within_ms);
  void seat_gang(const std::string& job_id, const std::vector<std::string>& members,
                 int64_t lease_ms, const std::string& rendezvous);
  std::optional<Assignment> deliver_seat(const std::string& worker_id);
  // False when `lease` is not a member lease of `worker_id`; else `status` says whether it is
  // still valid (and extended).
  bool renew_member(const std::string& worker_id, const v1::Lease& lease, int64_t lease_ms,
                    v1::LeaseStatus& status);
  bool holds_member_lease(const v1::Lease& lease, const std::string& owner);
  // "rank N (worker id)" when `lease` is a member lease of its job's gang (nullopt when it is
  // not one); FAILED_PRECONDITION when that job no longer runs or the lease lapsed.
  std::optional<std::string> current_member(const v1::Lease& lease);
  // (job, worker) of RUNNING jobs' members whose lease lapsed.
  std::vector<std::pair<std::string, std::string>> lapsed_members();
  std::vector<std::string> gang_of(const std::string& job_id);
  void log_event(const std::string& job_id, const std::string& kind, const std::string& detail);
  // Transitions, queue wait, stage durations and attempts, from the event being logged.
  void record_event_metrics(const std::string& job_id, const std::string& kind,
                            const std::string& detail, int64_t now);
  // The job's row when `lease` is its current lease, else RpcError FAILED_PRECONDITION.
  v1::Job current_job(const v1::Lease& lease);
  void end_attempt(const v1::Job& job, const std::string& reason, bool retryable);
  void changed();

  SqliteDatabase db_;
  std::mutex mutex_;  // one SQLite connection: one statement at a time
  std::mutex version_mutex_;
  std::condition_variable version_changed_;
  uint64_t version_ = 0;
};

}  // namespace ern::server
