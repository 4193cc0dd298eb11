// A notification about one thread for one person (or for an organisation's webhooks).
//
// Routing and thread changes create notifications inside the same Mutation as the change that
// causes them (notify::Enqueue); the notify dispatcher expands each into channel deliveries
// (in-app inbox, email, the user's webhook, org webhooks) off the request path.
#pragma once

#include <optional>
#include <string>

#include "core/clock.hpp"

namespace streetwise::core {

struct Notification {
  std::string id;       // "n..."; stable across retries (webhook-id, e-mail Message-ID)
  std::string org_id;
  std::string type;     // see kNotificationTypes in docs/notifications.md
  std::string thread_id;
  // The person it is for (inbox, e-mail, their own webhook). Org webhooks subscribed to `type`
  // receive every notification of that type, with this id in the payload.
  std::optional<std::string> recipient_user_id;
  std::optional<std::string> assignment_id;
  bool urgent = false;  // the thread's needed_by is within 24 h: breaks through quiet hours
  TimePoint created_at;
  std::string data_json;  // type-specific details as a JSON object (title, tags, round, ...)
};

// Notification types (persisted strings).
inline constexpr const char* kNotifyAssignmentCreated = "assignment.created";   // you were asked to answer
inline constexpr const char* kNotifyAssignmentReminder = "assignment.reminder"; // still unanswered
inline constexpr const char* kNotifyThreadEscalated = "thread.escalated";       // to escalation contacts
inline constexpr const char* kNotifyThreadAnswered = "thread.answered";         // to the asker and watchers
inline constexpr const char* kNotifyWatchedTag = "tag.new_thread";              // a new thread in a watched tag
// The weekly insights digest (no thread: thread_id is empty; data has title and excerpt).
inline constexpr const char* kNotifyInsightsDigest = "insights.digest";

}  // namespace streetwise::core
