// Use cases of the notification endpoints: the in-app inbox, personal notification settings, org
// webhooks with their delivery log and redelivery, and answer links.
//
// Blocking (RocksDB reads and fsynced commits): call writes from the blocking pool. Thread-safe.
// Delivery itself is notify::Dispatcher's job; this service only reads and edits records.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/model.hpp"
#include "notify/answer_link.hpp"
#include "notify/records.hpp"
#include "service/account_service.hpp"
#include "service/thread_service.hpp"
#include "storage/store.hpp"

namespace streetwise::notify {
class Dispatcher;
}

namespace streetwise::service {

struct NotificationServiceOptions {
  bool webhook_allow_private = true;  // see notify/url_guard.hpp
  bool email_enabled = false;         // the server has an SMTP relay
  // Answer links expire at the earlier of their own expiry and issued_at + this (so lowering the
  // setting also shortens links already sent); 0 disables answer links.
  std::chrono::milliseconds answer_link_ttl = std::chrono::hours(24 * 7);
};

struct SettingsInput {
  bool email = true;
  std::optional<std::string> webhook_url;
  notify::WebhookFormat webhook_format = notify::WebhookFormat::kStandard;
  std::optional<notify::QuietHours> quiet_hours;
  std::optional<std::string> timezone;
  bool digest = false;
};

struct SettingsView {
  notify::NotificationSettings settings;
  bool saved = false;               // false: the defaults, never stored
  std::string effective_timezone;   // the zone quiet hours and the digest use
  bool email_available = false;     // the server can send e-mail and the user has an address
};

struct NewWebhookInput {
  std::string url;
  std::vector<std::string> events;
  std::optional<std::string> secret;  // whsec_<base64> or any 16..256 characters; generated if absent
  notify::WebhookFormat format = notify::WebhookFormat::kStandard;
};

struct DeliveryView {
  notify::DeliverySummary summary;
  std::vector<notify::DeliveryAttempt> attempts;  // oldest first
};

// Why an answer link cannot be used.
enum class LinkProblem {
  kMalformed,  // not a link we issued
  kTampered,   // signature mismatch
  kExpired,
  kRevoked,    // the user is gone, or one of their API tokens was revoked after the link was issued
  kGone,       // the thread was deleted
  kClosed,     // the thread no longer accepts answers
};

struct AnswerLinkView {
  core::Thread thread;
  core::User expert;
  std::map<std::string, std::string> names;  // user id -> display name of the thread's contributors
  notify::AnswerLinkClaims claims;
};

struct AnswerLinkOutcome {
  std::optional<AnswerLinkView> view;  // set when the link is usable
  std::optional<LinkProblem> problem;
  std::optional<core::Answer> answer;  // AnswerViaLink: the answer posted (or the identical earlier one)
  std::optional<core::Error> error;    // AnswerViaLink: validation or storage error
};

class NotificationService {
 public:
  // `store`, `clock` (and `dispatcher` when given) must outlive the service. `answer_link_key`
  // is notify::LoadOrCreateAnswerLinkKey's key. `dispatcher` may be nullptr (no kick on redelivery).
  NotificationService(storage::Store& store, const core::Clock& clock, ThreadService& threads,
                      std::string answer_link_key, NotificationServiceOptions options,
                      notify::Dispatcher* dispatcher = nullptr);

  // ---- in-app inbox ----
  // Newest first; `after` is the previous page's next_key.
  core::Result<storage::Page<notify::InboxItem>> ListInbox(const Caller& caller, bool unread_only,
                                                           const std::optional<std::string>& after,
                                                           std::size_t limit) const;
  // Idempotent; kNotFound for an id not in the caller's inbox.
  core::Result<Written<notify::InboxItem>> MarkRead(const Caller& caller, const std::string& notification_id);
  // Items with position > `after`, oldest first (the SSE stream). Reads only.
  core::Result<std::vector<notify::InboxItem>> InboxAfter(const std::string& org_id, const std::string& user_id,
                                                          std::uint64_t after, std::size_t limit) const;
  // The last position given out to the user (0 for an empty inbox).
  core::Result<std::uint64_t> InboxHead(const std::string& org_id, const std::string& user_id) const;

  // ---- settings ----
  core::Result<SettingsView> GetSettings(const Caller& caller) const;
  // kInvalidArgument (with field pointers) for a bad URL, time zone or quiet-hours window.
  core::Result<Written<SettingsView>> PutSettings(const Caller& caller, const SettingsInput& input);

  // ---- org webhooks (admins; kForbidden otherwise) ----
  core::Result<Written<notify::Webhook>> CreateWebhook(const Caller& caller, const NewWebhookInput& input);
  core::Result<std::vector<notify::Webhook>> ListWebhooks(const Caller& caller) const;
  core::Result<Written<notify::Webhook>> DeleteWebhook(const Caller& caller, const std::string& webhook_id);
  // Newest first (by notification id).
  core::Result<storage::Page<DeliveryView>> ListDeliveries(const Caller& caller, const std::string& webhook_id,
                                                           const std::optional<std::string>& after,
                                                           std::size_t limit) const;
  // Schedules the delivery again now with a fresh retry window (same webhook-id). kConflict while
  // it is pending or retrying.
  core::Result<Written<DeliveryView>> Redeliver(const Caller& caller, const std::string& webhook_id,
                                                const std::string& delivery_id);

  // ---- answer links ----
  // What GET /a/{token} shows; consumes nothing.
  AnswerLinkOutcome OpenAnswerLink(const std::string& token) const;
  // Posts `body` as the link's expert (ThreadService::AddAnswer). Submitting the same text twice
  // within 10 minutes returns the first answer instead of a duplicate.
  AnswerLinkOutcome AnswerViaLink(const std::string& token, const std::string& body);

 private:
  std::mutex& LockFor(const std::string& key);
  core::Result<notify::Webhook> AdminWebhook(const Caller& caller, const std::string& webhook_id) const;
  core::Result<DeliveryView> LoadDelivery(const std::string& org_id, const std::string& webhook_id,
                                          const std::string& notification_id) const;
  AnswerLinkOutcome Check(const std::string& token) const;

  storage::Store& store_;
  const core::Clock& clock_;
  ThreadService& threads_;
  std::string link_key_;
  NotificationServiceOptions options_;
  notify::Dispatcher* dispatcher_;
  std::array<std::mutex, 32> stripes_;
};

}  // namespace streetwise::service
