// The gang part of the JobStore: a job whose spec asks for `training.workers: N` is leased to N
// live idle workers at once, all or none, so a job never holds part of a gang while it waits.
// Rank 0 holds the job's own lease (it reports, uploads and completes, as a single worker does);
// ranks 1..N-1 hold member leases in gang_members, renewed by their heartbeats. When any member's
// lease lapses, or a member reports its own failure, the whole gang's attempt ends.

#include "common/auth/secure_random.h"
#include "common/rpc_error.h"
#include "server/job_rows.h"
#include "server/job_store.h"

namespace ern::server {

std::vector<std::string> JobStore::idle_workers(const std::string& except, int64_t live_within_ms) {
  Statement query(db_,
                  "SELECT id FROM workers WHERE id<>?1 AND last_heartbeat_ms>=?2 "
                  "AND id NOT IN (SELECT worker FROM jobs WHERE state=?3) "
                  "AND id NOT IN (SELECT gang_members.worker FROM gang_members JOIN jobs ON "
                  "jobs.id=gang_members.job_id WHERE jobs.state=?3) "
                  "ORDER BY last_heartbeat_ms DESC");
  query.bind(1, except)
      .bind(2, now_unix_ms() - live_within_ms)
      .bind(3, static_cast<int>(v1::RUNNING));
  std::vector<std::string> idle;
  while (query.step()) idle.push_back(query.text(0));
  return idle;
}

void JobStore::seat_gang(const std::string& job_id, const std::vector<std::string>& members,
                         int64_t lease_ms, const std::string& rendezvous) {
  Statement clear(db_, "DELETE FROM gang_members WHERE job_id=?1");
  clear.bind(1, job_id);
  clear.step();
  const int64_t expires = now_unix_ms() + lease_ms;
  for (size_t i = 0; i < members.size(); ++i) {
    Statement insert(db_,
                     "INSERT INTO gang_members (job_id, rank, worker, lease_token, "
                     "lease_expires_ms, delivered) VALUES (?1, ?2, ?3, ?4, ?5, 0)");
    insert.bind(1, job_id)
        .bind(2, static_cast<int64_t>(i + 1))
        .bind(3, members[i])
        .bind(4, "lease-" + auth::random_hex(16))
        .bind(5, expires);
    insert.step();
  }
  Statement update(db_, "UPDATE jobs SET world_size=?2, rendezvous=?3 WHERE id=?1");
  update.bind(1, job_id).bind(2, static_cast<int64_t>(members.size() + 1)).bind(3, rendezvous);
  update.step();
}

std::optional<Assignment> JobStore::deliver_seat(const std::string& worker_id) {
  Statement pending(db_,
                    "SELECT gang_members.job_id, rank, gang_members.lease_token, "
                    "gang_members.lease_expires_ms FROM gang_members JOIN jobs ON "
                    "jobs.id=gang_members.job_id WHERE gang_members.worker=?1 AND delivered=0 "
                    "AND jobs.state=?2 LIMIT 1");
  pending.bind(1, worker_id).bind(2, static_cast<int>(v1::RUNNING));
  if (!pending.step()) return std::nullopt;
  Assignment seat;
  const std::string job_id = pending.text(0);
  seat.rank = static_cast<int>(pending.integer(1));
  seat.fencing_token = pending.text(2);
  seat.lease_expires_ms = pending.integer(3);
  Statement delivered(db_, "UPDATE gang_members SET delivered=1 WHERE job_id=?1 AND rank=?2");
  delivered.bind(1, job_id).bind(2, static_cast<int64_t>(seat.rank));
  delivered.step();
  Statement checkpoint(db_, "SELECT checkpoint_sha FROM jobs WHERE id=?1");
  checkpoint.bind(1, job_id);
  checkpoint.step();
  seat.checkpoint_sha = checkpoint.text(0);
  seat.job = load_job(job_id);
  log_event(job_id, "GANG", "rank " + std::to_string(seat.rank) + " taken by " + worker_id);
  return seat;
}

bool JobStore::renew_member(const std::string& worker_id, const v1::Lease& lease, int64_t lease_ms,
                            v1::LeaseStatus& status) {
  Statement member(db_,
                   "SELECT rank, lease_token, lease_expires_ms FROM gang_members WHERE "
                   "job_id=?1 AND worker=?2");
  member.bind(1, lease.job_id()).bind(2, worker_id);
  if (!member.step() || !auth::constant_time_equal(member.text(1), lease.fencing_token())) {
    return false;  // not a member's lease: the job's own
  }
  const auto job = load_job(lease.job_id());
  status.set_cancelled(job.state() == v1::CANCELLED);
  if (job.state() != v1::RUNNING || member.integer(2) < now_unix_ms()) {
    status.set_valid(false);
    return true;
  }
  const int64_t expires = now_unix_ms() + lease_ms;
  Statement extend(db_, "UPDATE gang_members SET lease_expires_ms=?3 WHERE job_id=?1 AND rank=?2");
  extend.bind(1, lease.job_id()).bind(2, member.integer(0)).bind(3, expires);
  extend.step();
  status.set_valid(true);
  status.set_expires_unix_ms(expires);
  return true;
}

bool JobStore::holds_member_lease(const v1::Lease& lease, const std::string& owner) {
  if (lease.fencing_token().empty()) return false;
  Statement query(db_,
                  "SELECT gang_members.lease_token FROM gang_members JOIN workers ON "
                  "gang_members.worker=workers.id JOIN jobs ON jobs.id=gang_members.job_id "
                  "WHERE gang_members.job_id=?1 AND workers.token_id=?2 AND jobs.state=?3");
  query.bind(1, lease.job_id()).bind(2, owner).bind(3, static_cast<int>(v1::RUNNING));
  while (query.step()) {
    if (auth::constant_time_equal(query.text(0), lease.fencing_token())) return true;
  }
  return false;
}

std::optional<std::string> JobStore::current_member(const v1::Lease& lease) {
  if (lease.fencing_token().empty()) return std::nullopt;
  Statement query(db_,
                  "SELECT rank, worker, lease_token, lease_expires_ms FROM gang_members WHERE "
                  "job_id=?1");
  query.bind(1, lease.job_id());
  while (query.step()) {
    if (!auth::constant_time_equal(query.text(2), lease.fencing_token())) continue;
    const auto job = load_job(lease.job_id());
    if (job.state() != v1::RUNNING) {
      throw stale_lease(lease, "the job is " + v1::JobState_Name(job.state()));
    }
    if (query.integer(3) < now_unix_ms()) throw stale_lease(lease, "the member lease expired");
    return "rank " + std::to_string(query.integer(0)) + " (" + query.text(1) + ")";
  }
  return std::nullopt;
}

std::vector<std::pair<std::string, std::string>> JobStore::lapsed_members() {
  Statement query(db_,
                  "SELECT gang_members.job_id, gang_members.worker FROM gang_members JOIN jobs ON "
                  "jobs.id=gang_members.job_id WHERE jobs.state=?1 AND "
                  "gang_members.lease_expires_ms<?2");
  query.bind(1, static_cast<int>(v1::RUNNING)).bind(2, now_unix_ms());
  std::vector<std::pair<std::string, std::string>> lapsed;
  while (query.step()) lapsed.emplace_back(query.text(0), query.text(1));
  return lapsed;
}

std::vector<std::string> JobStore::gang_of(const std::string& job_id) {
  Statement query(db_, "SELECT worker FROM gang_members WHERE job_id=?1 ORDER BY rank");
  query.bind(1, job_id);
  std::vector<std::string> members;
  while (query.step()) members.push_back(query.text(0));
  return members;
}

}  // namespace ern::server
