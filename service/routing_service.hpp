// Expert routing: expertise profiles, assignments, escalation timers and the routing worker.
//
// The worker tails the change log from a position stored in the store's meta (committed in the
// same WriteBatch as the assignments, timers and outbox notifications it writes), so each event is
// routed exactly once across crashes. Timers live in RocksDB keyed by due time; a timer is deleted
// in the same batch as its effects, so it never fires twice, and one that fell due while the server
// was down fires once on start. Request-time operations (claim, decline, expertise) and the worker
// share one lock, so routing state changes are serialised.
//
// Blocking: call request-time methods from the blocking pool. Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "routing/policy.hpp"
#include "service/account_service.hpp"
#include "storage/store.hpp"

namespace streetwise::indexer {
class SearchIndex;
}

namespace streetwise::service {

enum class AssignmentStatus { kOpen, kClaimed, kDeclined, kAnswered, kClosed };
std::string_view ToString(AssignmentStatus s);

struct Assignment {
  std::string id;
  std::string org_id;
  std::string thread_id;
  std::string user_id;
  int round = 1;
  AssignmentStatus status = AssignmentStatus::kOpen;
  core::TimePoint created_at;
  core::TimePoint due_at;
  std::optional<core::TimePoint> claimed_until;
  std::optional<std::string> decline_reason;
  std::optional<core::TimePoint> closed_at;
  bool fallback = false;  // assigned as the triage group because no expert covered the tags
};

struct RoutingRound {
  int round = 1;
  core::TimePoint at;
  bool fallback = false;
  std::string trigger;  // "created", "escalation", "retagged", "declined"
  std::vector<routing::Candidate> candidates;
};

// Why a thread went to whom: GET /v1/threads/{id}/routing.
struct RoutingRecord {
  std::string org_id;
  std::string thread_id;
  int round = 0;
  bool escalated = false;
  bool finished = false;  // answered, resolved, closed or deleted: no more rounds
  std::vector<std::string> tags;  // the tags last routed on
  std::vector<std::string> asked;
  std::vector<RoutingRound> rounds;
};

struct OrgRoutingSettings {
  routing::RoutingSettings policy;
  std::vector<std::string> escalation_contacts;  // user ids; empty = the org's admins
  std::vector<std::string> triage_users;         // user ids; empty = the org's admins
};

struct TagExpert {
  core::User user;
  int level = 0;
  bool in_working_hours = false;
  int open_assignments = 0;
};

enum class DeclineReason { kNotMyArea, kBusy, kAway, kOther };
std::optional<DeclineReason> ParseDeclineReason(std::string_view s);

class RoutingService {
 public:
  // All references must outlive the service. `index` (nullable) provides similar threads for
  // notification bodies.
  RoutingService(storage::Store& store, const core::Clock& clock, indexer::SearchIndex* index);
  ~RoutingService();

  core::Result<Written<routing::Expertise>> PutExpertise(const Caller& caller, const std::string& user_id,
                                                         routing::Expertise expertise);
  core::Result<routing::Expertise> GetExpertise(const Caller& caller, const std::string& user_id) const;
  core::Result<std::vector<TagExpert>> ExpertsForTag(const Caller& caller, const std::string& tag) const;
  core::Result<std::vector<core::User>> WatchersOfTag(const Caller& caller, const std::string& tag) const;

  core::Result<OrgRoutingSettings> GetSettings(const Caller& caller) const;
  core::Result<Written<OrgRoutingSettings>> PutSettings(const Caller& caller, const OrgRoutingSettings& settings);

  core::Result<std::vector<Assignment>> MyAssignments(const Caller& caller) const;
  core::Result<Written<Assignment>> Claim(const Caller& caller, const std::string& assignment_id);
  core::Result<Written<Assignment>> Decline(const Caller& caller, const std::string& assignment_id,
                                            DeclineReason reason);
  core::Result<std::pair<RoutingRecord, std::vector<Assignment>>> Routing(const Caller& caller,
                                                                          const std::string& thread_id) const;

  // The worker: tails the change log and fires due timers on its own thread.
  void Start();
  void Stop();
  // Change-log seq the worker has applied (tests and metrics).
  std::uint64_t Position() const;
  // Escalations fired since start (metrics).
  std::uint64_t EscalationsFired() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace streetwise::service
