// Pure rules for thread state and permissions. No I/O; unit-tested in tests/unit/core.
//
// Status lifecycle: open -> answered (first answer) -> resolved (an answer accepted).
// Un-accepting goes back to answered. Admins close (from any state) and reopen (to the state the
// answers imply). Closed threads take no new answers or comments.
#pragma once

#include <optional>
#include <string_view>

#include "core/error.hpp"
#include "core/model.hpp"

namespace streetwise::core {

// The status implied by the answers and acceptance (never kClosed).
ThreadStatus DerivedStatus(const Thread& t);

// Whether `user` may edit the thread's title/body/tags: its author or an admin.
bool CanEditThread(const User& user, const Thread& t);

// Whether `user` may accept an answer: the thread's author or an admin.
bool CanAcceptAnswer(const User& user, const Thread& t);

// Whether `user` may change the status (close/reopen): admins only.
bool CanChangeStatus(const User& user);

// Admins create users and issue/revoke others' tokens; anyone manages their own tokens.
bool CanManageTokensOf(const User& caller, std::string_view target_user_id);

// Whether `user` may read /v1/insights: admins and analysts.
bool CanReadInsights(const User& user);

// kConflict if the thread is closed and so takes no new answers/comments.
Status CheckAcceptsContributions(const Thread& t);

}  // namespace streetwise::core
