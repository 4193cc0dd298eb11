// notify/'s persisted records and key layouts (docs/storage-format.md, "Notifications").
//
// Values are JSON objects with "fv" (format version) like every other value; persisted enums are
// strings that are never reused. Column families are the ones in storage/keys.hpp:
//
//   outbox      be64(due_ms)/<notification_id>          a notification waiting to be expanded
//                                                      (notify::Enqueue; no "kind" member)
//               be64(due_ms)/<delivery_id>              a channel delivery ("kind": "delivery")
//   inbox       org/user/i/be64(position)              InboxItem (the in-app notification)
//               org/user/n/<notification_id>            decimal position (dedupe, lookup by id)
//               org/user/u/be64(position)              "" while unread
//               org/user/d/<notification_id>            notification waiting for the daily digest
//               org/user/head                          decimal: the last position given out
//               org/user/settings                      NotificationSettings
//   webhooks    org/<webhook_id>                       Webhook
//   deliveries  org/<endpoint>/<notification_id>        DeliverySummary
//               org/<endpoint>/<notification_id>/be64(attempt)   DeliveryAttempt
//
// <endpoint> is the org webhook's id, "~<user_id>.webhook" for a user's own webhook or
// "~<user_id>.email" for e-mail. Delivery ids are "<notification_id>.email",
// "<notification_id>.webhook", "<notification_id>.<webhook_id>" and
// "digest.<org>.<user>.<slot_ms>": one per notification, channel and target, so expanding a
// notification twice writes the same keys.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/notification.hpp"
#include "notify/quiet_hours.hpp"

namespace streetwise::notify {

enum class Channel { kEmail, kUserWebhook, kOrgWebhook, kDigest };  // "email", "user_webhook", "org_webhook", "digest"
enum class WebhookFormat { kStandard, kSlack };                      // "standard", "slack"
enum class DeliveryStatus { kPending, kRetrying, kDelivered, kDead, kCancelled };

std::string_view ToString(Channel c);
std::string_view ToString(WebhookFormat f);
std::string_view ToString(DeliveryStatus s);
std::optional<Channel> ParseChannel(std::string_view s);
std::optional<WebhookFormat> ParseWebhookFormat(std::string_view s);
std::optional<DeliveryStatus> ParseDeliveryStatus(std::string_view s);

// Notification types a webhook may subscribe to (core/notification.hpp).
const std::vector<std::string>& KnownNotificationTypes();

struct NotificationSettings {
  bool email = true;                            // e-mail to User.email (when the server has a relay)
  std::optional<std::string> webhook_url;       // the user's own webhook (e.g. a chat incoming webhook)
  WebhookFormat webhook_format = WebhookFormat::kStandard;
  std::optional<std::string> webhook_secret;    // whsec_..., generated when webhook_url is first set
  std::optional<QuietHours> quiet_hours;        // nullopt: none
  std::optional<std::string> timezone;          // nullopt: the expertise record's, else UTC
  bool digest = false;                          // non-urgent e-mail batched into one daily message
  core::TimePoint updated_at;
};

struct Webhook {
  std::string id;
  std::string org_id;
  std::string url;
  std::vector<std::string> events;  // notification types
  WebhookFormat format = WebhookFormat::kStandard;
  std::string secret;               // stored as is: the sender needs it to sign
  std::string created_by;
  core::TimePoint created_at;
};

// A channel delivery waiting in the outbox.
struct DeliveryEntry {
  std::string delivery_id;
  Channel channel = Channel::kEmail;
  std::string org_id;
  std::string endpoint;                             // deliveries-log scope (see above)
  std::optional<std::string> user_id;              // recipient (email, user_webhook, digest)
  std::optional<core::Notification> notification;   // absent for digests
  int attempts = 0;                                 // attempts made in this cycle
  int prior_attempts = 0;                           // attempts of earlier cycles (manual redelivery)
  std::optional<core::TimePoint> first_attempt_at;  // of this cycle: the retry window starts here
  std::optional<std::string> last_error;
  core::TimePoint created_at;
};

struct InboxItem {
  std::uint64_t position = 0;  // per-user, strictly increasing: the SSE event id
  core::Notification notification;
  std::optional<core::TimePoint> read_at;
};

struct DeliverySummary {
  std::string notification_id;
  std::string endpoint;
  Channel channel = Channel::kOrgWebhook;
  std::string type;
  DeliveryStatus status = DeliveryStatus::kPending;
  int attempts = 0;
  core::TimePoint created_at;
  core::TimePoint updated_at;
  std::optional<core::TimePoint> next_attempt_at;
  std::optional<int> last_status_code;
  std::optional<std::string> last_error;
  std::optional<core::Notification> notification;  // kept for manual redelivery
};

struct DeliveryAttempt {
  int attempt = 0;  // 1-based, counting manual redeliveries on
  core::TimePoint at;
  std::int64_t duration_ms = 0;
  std::optional<int> status_code;  // HTTP status or SMTP reply code
  std::optional<std::string> error;
  std::string outcome;             // "delivered" | "retry" | "dead"
};

// ---- keys ----
std::string OutboxKey(core::TimePoint due, std::string_view id);
// The due time and id of an outbox key; nullopt if it is too short.
struct OutboxKeyParts {
  core::TimePoint due;
  std::string id;
};
std::optional<OutboxKeyParts> ParseOutboxKey(std::string_view key);

std::string UserPrefix(std::string_view org, std::string_view user);  // "org/user/"
std::string InboxItemKey(std::string_view org, std::string_view user, std::uint64_t position);
std::string InboxIdKey(std::string_view org, std::string_view user, std::string_view notification_id);
std::string InboxUnreadKey(std::string_view org, std::string_view user, std::uint64_t position);
std::string InboxHeadKey(std::string_view org, std::string_view user);
std::string SettingsKey(std::string_view org, std::string_view user);
std::string DigestItemKey(std::string_view org, std::string_view user, std::string_view notification_id);
std::string WebhookKey(std::string_view org, std::string_view webhook_id);
std::string DeliverySummaryKey(std::string_view org, std::string_view endpoint, std::string_view notification_id);
std::string DeliveryAttemptKey(std::string_view org, std::string_view endpoint, std::string_view notification_id,
                               int attempt);
std::string EmailEndpoint(std::string_view user_id);
std::string UserWebhookEndpoint(std::string_view user_id);

// ---- codecs: decoders return kInternal with the cause for unreadable values ----
std::string Encode(const NotificationSettings& v);
std::string Encode(const Webhook& v);
std::string Encode(const DeliveryEntry& v);
std::string Encode(const InboxItem& v);
std::string Encode(const DeliverySummary& v);
std::string Encode(const DeliveryAttempt& v);
core::Result<NotificationSettings> DecodeSettings(std::string_view s);
core::Result<Webhook> DecodeWebhook(std::string_view s);
core::Result<DeliveryEntry> DecodeDeliveryEntry(std::string_view s);
core::Result<InboxItem> DecodeInboxItem(std::string_view s);
core::Result<DeliverySummary> DecodeDeliverySummary(std::string_view s);
core::Result<DeliveryAttempt> DecodeDeliveryAttempt(std::string_view s);

// An outbox value holds either a notification (from notify::Enqueue) or a delivery.
bool IsDeliveryEntry(std::string_view outbox_value);

}  // namespace streetwise::notify
