// Domain types: organisations, users, tokens, threads, answers, comments, events.
//
// Plain structs with no I/O. The persisted encoding lives in storage/codec.cpp and the HTTP
// representation in api/representation.cpp; both version their formats independently.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"

namespace streetwise::core {

// Persisted as strings ("member", ...); never renumber-sensitive.
// kAnalyst: a member who may also read /v1/insights (sales and product managers).
enum class Role { kMember, kExpert, kAdmin, kAnalyst };
enum class ThreadKind { kQuestion, kFeatureRequest, kComplaint, kTip };
enum class ThreadStatus { kOpen, kAnswered, kResolved, kClosed };

std::string_view ToString(Role r);
std::string_view ToString(ThreadKind k);
std::string_view ToString(ThreadStatus s);
std::optional<Role> ParseRole(std::string_view s);
std::optional<ThreadKind> ParseThreadKind(std::string_view s);
std::optional<ThreadStatus> ParseThreadStatus(std::string_view s);

struct Org {
  std::string id;
  std::string name;
  TimePoint created_at;
};

struct User {
  std::string id;
  std::string org_id;
  std::string name;
  std::optional<std::string> email;
  Role role = Role::kMember;
  TimePoint created_at;
};

// An API token. Only the SHA-256 of the secret is ever stored.
struct Token {
  std::string id;
  std::string org_id;
  std::string user_id;
  std::string name;
  std::string prefix;         // first characters of the secret, for display
  std::string secret_sha256;  // hex digest of the full secret
  TimePoint created_at;
  std::optional<TimePoint> revoked_at;
};

struct Comment {
  std::string id;
  std::string thread_id;
  std::optional<std::string> answer_id;
  std::string body;
  std::string author_id;
  TimePoint created_at;
};

struct Answer {
  std::string id;
  std::string thread_id;
  std::string body;
  std::string body_html;
  std::string author_id;
  TimePoint created_at;
  std::int64_t score = 0;
};

// The deal context a salesperson has at hand when asking.
struct DealContext {
  std::optional<std::string> account;
  std::optional<std::string> region;
  std::optional<std::string> product;
  std::optional<std::string> needed_by;  // YYYY-MM-DD, validated
  std::optional<double> deal_value;
};

// A thread is stored as one aggregate (thread + answers + comments) so every mutation is a single
// read-modify-write of one value and GET by id is one point lookup.
struct Thread {
  std::string id;
  std::string org_id;
  std::string title;
  std::string body;
  std::string body_html;
  std::vector<std::string> tags;  // normalised, unique, in the author's order
  ThreadKind kind = ThreadKind::kQuestion;
  ThreadStatus status = ThreadStatus::kOpen;
  std::string author_id;
  DealContext deal;
  TimePoint created_at;
  TimePoint updated_at;
  std::int64_t version = 1;   // bumps on every change; the ETag
  std::int64_t revision = 1;  // bumps on every edit of title/body/tags
  std::optional<std::string> accepted_answer_id;
  std::optional<TimePoint> accepted_at;  // when the accepted answer was chosen (insights)
  std::vector<Answer> answers;
  std::vector<Comment> comments;

  const Answer* FindAnswer(std::string_view answer_id) const;
  Answer* FindAnswer(std::string_view answer_id);
};

// One entry of a thread's edit history (revision 1 is the original text).
struct Revision {
  std::int64_t revision = 0;
  std::string title;
  std::string body;
  std::vector<std::string> tags;
  std::string editor_id;
  TimePoint created_at;
};

// Similar threads shown to someone drafting a question (deflection tracking).
struct Suggestion {
  std::string id;
  std::string org_id;
  std::string user_id;
  std::vector<std::string> thread_ids;  // what was suggested, best first
  std::vector<std::string> tags;        // the draft's tags
  TimePoint created_at;
  std::optional<std::string> resolved_thread_id;  // the suggested thread that answered the person
};

// Change-log event types. Persisted as strings.
enum class EventType {
  kOrgCreated,
  kUserCreated,
  kTokenCreated,
  kTokenRevoked,
  kThreadCreated,
  kThreadEdited,
  kThreadStatusChanged,
  kAnswerCreated,
  kAnswerAccepted,
  kAnswerVoted,
  kCommentCreated,
  kSuggestionResolved,
  kThreadDeleted,
  kExpertiseUpdated,
  kAssignmentCreated,
  kAssignmentClaimed,
  kAssignmentDeclined,
  kThreadEscalated,
  kDigestSubscriptionChanged,
  kDigestSent,
};
std::string_view ToString(EventType t);
std::optional<EventType> ParseEventType(std::string_view s);

// One change-log record. `seq` is global and strictly increasing in commit-visible order.
struct Event {
  std::uint64_t seq = 0;
  EventType type = EventType::kThreadCreated;
  std::string org_id;
  std::optional<std::string> thread_id;
  std::optional<std::string> answer_id;
  std::optional<std::string> user_id;
  std::optional<std::string> actor_id;
  TimePoint at;
};

}  // namespace streetwise::core
