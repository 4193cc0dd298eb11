#include "core/thread_policy.hpp"

namespace streetwise::core {

ThreadStatus DerivedStatus(const Thread& t) {
  if (t.accepted_answer_id) return ThreadStatus::kResolved;
  if (!t.answers.empty()) return ThreadStatus::kAnswered;
  return ThreadStatus::kOpen;
}

bool CanEditThread(const User& user, const Thread& t) {
  return user.role == Role::kAdmin || user.id == t.author_id;
}

bool CanAcceptAnswer(const User& user, const Thread& t) {
  return user.role == Role::kAdmin || user.id == t.author_id;
}

bool CanChangeStatus(const User& user) { return user.role == Role::kAdmin; }

bool CanManageTokensOf(const User& caller, std::string_view target_user_id) {
  return caller.role == Role::kAdmin || caller.id == target_user_id;
}

bool CanReadInsights(const User& user) { return user.role == Role::kAdmin || user.role == Role::kAnalyst; }

Status CheckAcceptsContributions(const Thread& t) {
  if (t.status == ThreadStatus::kClosed) {
    return Error::Make(ErrorCode::kConflict, "the thread is closed; an admin can reopen it");
  }
  return OkStatus();
}

}  // namespace streetwise::core
