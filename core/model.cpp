#include "core/model.hpp"

#include <array>
#include <utility>

namespace streetwise::core {
namespace {

template <class E, std::size_t N>
std::optional<E> Lookup(const std::array<std::pair<E, std::string_view>, N>& table, std::string_view s) {
  for (const auto& [e, name] : table) {
    if (name == s) return e;
  }
  return std::nullopt;
}

template <class E, std::size_t N>
std::string_view Name(const std::array<std::pair<E, std::string_view>, N>& table, E e) {
  for (const auto& [v, name] : table) {
    if (v == e) return name;
  }
  return "unknown";
}

constexpr std::array<std::pair<Role, std::string_view>, 4> kRoles{{
    {Role::kMember, "member"}, {Role::kExpert, "expert"}, {Role::kAdmin, "admin"}, {Role::kAnalyst, "analyst"}}};
constexpr std::array<std::pair<ThreadKind, std::string_view>, 4> kKinds{{
    {ThreadKind::kQuestion, "question"},
    {ThreadKind::kFeatureRequest, "feature_request"},
    {ThreadKind::kComplaint, "complaint"},
    {ThreadKind::kTip, "tip"}}};
constexpr std::array<std::pair<ThreadStatus, std::string_view>, 4> kStatuses{{
    {ThreadStatus::kOpen, "open"},
    {ThreadStatus::kAnswered, "answered"},
    {ThreadStatus::kResolved, "resolved"},
    {ThreadStatus::kClosed, "closed"}}};
constexpr std::array<std::pair<EventType, std::string_view>, 20> kEventTypes{{
    {EventType::kOrgCreated, "org.created"},
    {EventType::kUserCreated, "user.created"},
    {EventType::kTokenCreated, "token.created"},
    {EventType::kTokenRevoked, "token.revoked"},
    {EventType::kThreadCreated, "thread.created"},
    {EventType::kThreadEdited, "thread.edited"},
    {EventType::kThreadStatusChanged, "thread.status_changed"},
    {EventType::kAnswerCreated, "answer.created"},
    {EventType::kAnswerAccepted, "answer.accepted"},
    {EventType::kAnswerVoted, "answer.voted"},
    {EventType::kCommentCreated, "comment.created"},
    {EventType::kSuggestionResolved, "suggestion.resolved"},
    {EventType::kThreadDeleted, "thread.deleted"},
    {EventType::kExpertiseUpdated, "user.expertise_updated"},
    {EventType::kAssignmentCreated, "assignment.created"},
    {EventType::kAssignmentClaimed, "assignment.claimed"},
    {EventType::kAssignmentDeclined, "assignment.declined"},
    {EventType::kThreadEscalated, "thread.escalated"},
    {EventType::kDigestSubscriptionChanged, "user.digest_subscription_changed"},
    {EventType::kDigestSent, "insights.digest_sent"}}};

}  // namespace

std::string_view ToString(Role r) { return Name(kRoles, r); }
std::string_view ToString(ThreadKind k) { return Name(kKinds, k); }
std::string_view ToString(ThreadStatus s) { return Name(kStatuses, s); }
std::string_view ToString(EventType t) { return Name(kEventTypes, t); }
std::optional<Role> ParseRole(std::string_view s) { return Lookup(kRoles, s); }
std::optional<ThreadKind> ParseThreadKind(std::string_view s) { return Lookup(kKinds, s); }
std::optional<ThreadStatus> ParseThreadStatus(std::string_view s) { return Lookup(kStatuses, s); }
std::optional<EventType> ParseEventType(std::string_view s) { return Lookup(kEventTypes, s); }

const Answer* Thread::FindAnswer(std::string_view answer_id) const {
  for (const auto& a : answers) {
    if (a.id == answer_id) return &a;
  }
  return nullptr;
}

Answer* Thread::FindAnswer(std::string_view answer_id) {
  return const_cast<Answer*>(std::as_const(*this).FindAnswer(answer_id));
}

}  // namespace streetwise::core
