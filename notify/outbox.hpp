// The persisted outbox: notifications written in the same WriteBatch as the change that causes
// them, delivered later by the dispatcher.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/notification.hpp"
#include "storage/store.hpp"

namespace streetwise::notify {

// Adds `n` to the outbox as part of `m` (due immediately). Call it while building the Mutation of
// the change that causes the notification, so both commit atomically.
void Enqueue(storage::Mutation& m, const core::Notification& n);

std::string EncodeNotification(const core::Notification& n);
core::Result<core::Notification> DecodeNotification(std::string_view s);

}  // namespace streetwise::notify
