// Reads and small writes of notify/'s records that both the dispatcher and the notification
// service need. Blocking (RocksDB); thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "notify/records.hpp"
#include "storage/store.hpp"

namespace streetwise::notify {

// The user's settings, or the defaults (e-mail on, nothing else) when never saved.
core::Result<NotificationSettings> LoadSettings(const storage::Store& store, const std::string& org_id,
                                                const std::string& user_id);

// The recipient's IANA time zone: the settings' override, else the expertise record's
// (expertise family, written by routing), else "UTC".
std::string RecipientTimeZone(const storage::Store& store, const std::string& org_id, const std::string& user_id,
                              const NotificationSettings& settings);

// Every webhook of an organisation, in id order.
core::Result<std::vector<Webhook>> ListWebhooks(const storage::Store& store, const std::string& org_id);

// The server's answer-link signing key (32 random bytes in meta "answer_link_secret"), created
// and committed on first use. Call once at start-up, before serving.
core::Result<std::string> LoadOrCreateAnswerLinkKey(storage::Store& store);

// A notification id that is the same every time the same event is turned into a notification for
// the same person ("at most one notification per event per person"): "n" + 12 hex digits of the
// event's time in ms (so ids still sort by time) + 16 hex digits of SHA-256(event_key|recipient).
std::string NotificationIdFor(std::string_view event_key, std::string_view recipient, core::TimePoint event_time);

}  // namespace streetwise::notify
