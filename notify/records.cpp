#include "notify/records.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include "notify/outbox.hpp"
#include "storage/keys.hpp"

namespace streetwise::notify {
namespace json = boost::json;
using core::Error;
namespace keys = storage::keys;

namespace {

constexpr std::int64_t kFv = 1;

json::value NotificationJson(const core::Notification& n) { return json::parse(EncodeNotification(n)); }

core::Notification NotificationFrom(const json::value& v) {
  auto n = DecodeNotification(json::serialize(v));
  if (!n) throw std::runtime_error(n.error().cause);
  return std::move(n).value();
}

std::int64_t Ms(core::TimePoint t) { return core::ToUnixMillis(t); }
core::TimePoint At(const json::value& v) { return core::FromUnixMillis(v.to_number<std::int64_t>()); }

std::optional<std::string> OptStr(const json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  if (!v || v->is_null()) return std::nullopt;
  return std::string(v->as_string());
}
std::optional<core::TimePoint> OptAt(const json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  if (!v || v->is_null()) return std::nullopt;
  return At(*v);
}
std::optional<int> OptInt(const json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  if (!v || v->is_null()) return std::nullopt;
  return v->to_number<int>();
}
template <class T>
json::value Nullable(const std::optional<T>& v) {
  if (!v) return nullptr;
  return json::value_from(*v);
}
json::value NullableAt(const std::optional<core::TimePoint>& v) {
  if (!v) return nullptr;
  return Ms(*v);
}

const json::object& Checked(const json::value& v) {
  const auto& o = v.as_object();
  if (o.at("fv").to_number<std::int64_t>() != kFv) throw std::runtime_error("unknown format version");
  return o;
}

template <class T, class F>
core::Result<T> Decode(std::string_view s, std::string_view what, F f) {
  try {
    json::value v = json::parse(s);
    return f(Checked(v));
  } catch (const std::exception& e) {
    return Error::Internal(fmt::format("cannot decode {}: {}", what, e.what()));
  }
}

template <class E, std::size_t N>
std::optional<E> ParseEnum(std::string_view s, const std::array<std::string_view, N>& names) {
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i] == s) return static_cast<E>(i);
  }
  return std::nullopt;
}

constexpr std::array<std::string_view, 4> kChannels{"email", "user_webhook", "org_webhook", "digest"};
constexpr std::array<std::string_view, 2> kFormats{"standard", "slack"};
constexpr std::array<std::string_view, 5> kStatuses{"pending", "retrying", "delivered", "dead", "cancelled"};

template <class E>
E Required(std::optional<E> v, std::string_view what) {
  if (!v) throw std::runtime_error(fmt::format("unknown {}", what));
  return *v;
}

}  // namespace

std::string_view ToString(Channel c) { return kChannels[static_cast<std::size_t>(c)]; }
std::string_view ToString(WebhookFormat f) { return kFormats[static_cast<std::size_t>(f)]; }
std::string_view ToString(DeliveryStatus s) { return kStatuses[static_cast<std::size_t>(s)]; }
std::optional<Channel> ParseChannel(std::string_view s) { return ParseEnum<Channel>(s, kChannels); }
std::optional<WebhookFormat> ParseWebhookFormat(std::string_view s) { return ParseEnum<WebhookFormat>(s, kFormats); }
std::optional<DeliveryStatus> ParseDeliveryStatus(std::string_view s) {
  return ParseEnum<DeliveryStatus>(s, kStatuses);
}

const std::vector<std::string>& KnownNotificationTypes() {
  static const std::vector<std::string> kTypes{core::kNotifyAssignmentCreated, core::kNotifyAssignmentReminder,
                                               core::kNotifyThreadEscalated, core::kNotifyThreadAnswered,
                                               core::kNotifyWatchedTag};
  return kTypes;
}

// ---- keys ----

std::string OutboxKey(core::TimePoint due, std::string_view id) {
  return keys::BigEndian64(static_cast<std::uint64_t>(std::max<std::int64_t>(0, Ms(due)))) + "/" + std::string(id);
}

std::optional<OutboxKeyParts> ParseOutboxKey(std::string_view key) {
  if (key.size() < 10 || key[8] != '/') return std::nullopt;
  return OutboxKeyParts{core::FromUnixMillis(static_cast<std::int64_t>(keys::ParseBigEndian64(key.substr(0, 8)))),
                        std::string(key.substr(9))};
}

std::string UserPrefix(std::string_view org, std::string_view user) {
  return std::string(org) + "/" + std::string(user) + "/";
}
std::string InboxItemKey(std::string_view org, std::string_view user, std::uint64_t position) {
  return UserPrefix(org, user) + "i/" + keys::BigEndian64(position);
}
std::string InboxIdKey(std::string_view org, std::string_view user, std::string_view notification_id) {
  return UserPrefix(org, user) + "n/" + std::string(notification_id);
}
std::string InboxUnreadKey(std::string_view org, std::string_view user, std::uint64_t position) {
  return UserPrefix(org, user) + "u/" + keys::BigEndian64(position);
}
std::string InboxHeadKey(std::string_view org, std::string_view user) { return UserPrefix(org, user) + "head"; }
std::string SettingsKey(std::string_view org, std::string_view user) { return UserPrefix(org, user) + "settings"; }
std::string DigestItemKey(std::string_view org, std::string_view user, std::string_view notification_id) {
  return UserPrefix(org, user) + "d/" + std::string(notification_id);
}
std::string WebhookKey(std::string_view org, std::string_view webhook_id) {
  return std::string(org) + "/" + std::string(webhook_id);
}
std::string DeliverySummaryKey(std::string_view org, std::string_view endpoint, std::string_view notification_id) {
  return fmt::format("{}/{}/{}", org, endpoint, notification_id);
}
std::string DeliveryAttemptKey(std::string_view org, std::string_view endpoint, std::string_view notification_id,
                               int attempt) {
  return DeliverySummaryKey(org, endpoint, notification_id) + "/" +
         keys::BigEndian64(static_cast<std::uint64_t>(attempt));
}
std::string EmailEndpoint(std::string_view user_id) { return fmt::format("~{}.email", user_id); }
std::string UserWebhookEndpoint(std::string_view user_id) { return fmt::format("~{}.webhook", user_id); }

// ---- codecs ----

std::string Encode(const NotificationSettings& v) {
  json::object o{{"fv", kFv},
                 {"email", v.email},
                 {"webhook_url", Nullable(v.webhook_url)},
                 {"webhook_format", ToString(v.webhook_format)},
                 {"webhook_secret", Nullable(v.webhook_secret)},
                 {"timezone", Nullable(v.timezone)},
                 {"digest", v.digest},
                 {"updated_at", Ms(v.updated_at)}};
  if (v.quiet_hours) {
    o["quiet_hours"] = json::object{{"start", v.quiet_hours->start_minute}, {"end", v.quiet_hours->end_minute}};
  } else {
    o["quiet_hours"] = nullptr;
  }
  return json::serialize(o);
}

core::Result<NotificationSettings> DecodeSettings(std::string_view s) {
  return Decode<NotificationSettings>(s, "notification settings", [](const json::object& o) {
    NotificationSettings v;
    v.email = o.at("email").as_bool();
    v.webhook_url = OptStr(o, "webhook_url");
    v.webhook_format = Required(ParseWebhookFormat(o.at("webhook_format").as_string()), "webhook format");
    v.webhook_secret = OptStr(o, "webhook_secret");
    v.timezone = OptStr(o, "timezone");
    v.digest = o.at("digest").as_bool();
    v.updated_at = At(o.at("updated_at"));
    if (auto* q = o.if_contains("quiet_hours"); q && !q->is_null()) {
      v.quiet_hours = QuietHours{q->at("start").to_number<int>(), q->at("end").to_number<int>()};
    }
    return v;
  });
}

std::string Encode(const Webhook& v) {
  json::array events;
  for (const auto& e : v.events) events.emplace_back(e);
  return json::serialize(json::object{{"fv", kFv},
                                      {"id", v.id},
                                      {"org_id", v.org_id},
                                      {"url", v.url},
                                      {"events", std::move(events)},
                                      {"format", ToString(v.format)},
                                      {"secret", v.secret},
                                      {"created_by", v.created_by},
                                      {"created_at", Ms(v.created_at)}});
}

core::Result<Webhook> DecodeWebhook(std::string_view s) {
  return Decode<Webhook>(s, "webhook", [](const json::object& o) {
    Webhook v;
    v.id = std::string(o.at("id").as_string());
    v.org_id = std::string(o.at("org_id").as_string());
    v.url = std::string(o.at("url").as_string());
    for (const auto& e : o.at("events").as_array()) v.events.emplace_back(e.as_string());
    v.format = Required(ParseWebhookFormat(o.at("format").as_string()), "webhook format");
    v.secret = std::string(o.at("secret").as_string());
    v.created_by = std::string(o.at("created_by").as_string());
    v.created_at = At(o.at("created_at"));
    return v;
  });
}

std::string Encode(const DeliveryEntry& v) {
  json::object o{{"fv", kFv},
                 {"kind", "delivery"},
                 {"delivery_id", v.delivery_id},
                 {"channel", ToString(v.channel)},
                 {"org_id", v.org_id},
                 {"endpoint", v.endpoint},
                 {"user_id", Nullable(v.user_id)},
                 {"attempts", v.attempts},
                 {"prior_attempts", v.prior_attempts},
                 {"first_attempt_at", NullableAt(v.first_attempt_at)},
                 {"last_error", Nullable(v.last_error)},
                 {"created_at", Ms(v.created_at)}};
  o["notification"] = v.notification ? NotificationJson(*v.notification) : json::value(nullptr);
  return json::serialize(o);
}

core::Result<DeliveryEntry> DecodeDeliveryEntry(std::string_view s) {
  return Decode<DeliveryEntry>(s, "delivery", [](const json::object& o) {
    DeliveryEntry v;
    v.delivery_id = std::string(o.at("delivery_id").as_string());
    v.channel = Required(ParseChannel(o.at("channel").as_string()), "channel");
    v.org_id = std::string(o.at("org_id").as_string());
    v.endpoint = std::string(o.at("endpoint").as_string());
    v.user_id = OptStr(o, "user_id");
    v.attempts = o.at("attempts").to_number<int>();
    v.prior_attempts = OptInt(o, "prior_attempts").value_or(0);
    v.first_attempt_at = OptAt(o, "first_attempt_at");
    v.last_error = OptStr(o, "last_error");
    v.created_at = At(o.at("created_at"));
    if (auto* n = o.if_contains("notification"); n && !n->is_null()) v.notification = NotificationFrom(*n);
    return v;
  });
}

bool IsDeliveryEntry(std::string_view value) {
  // Cheap check without a full parse: only delivery entries carry "kind":"delivery".
  return value.find("\"kind\":\"delivery\"") != std::string_view::npos;
}

std::string Encode(const InboxItem& v) {
  return json::serialize(json::object{{"fv", kFv},
                                      {"position", v.position},
                                      {"read_at", NullableAt(v.read_at)},
                                      {"notification", NotificationJson(v.notification)}});
}

core::Result<InboxItem> DecodeInboxItem(std::string_view s) {
  return Decode<InboxItem>(s, "inbox item", [](const json::object& o) {
    InboxItem v;
    v.position = o.at("position").to_number<std::uint64_t>();
    v.read_at = OptAt(o, "read_at");
    v.notification = NotificationFrom(o.at("notification"));
    return v;
  });
}

std::string Encode(const DeliverySummary& v) {
  json::object o{{"fv", kFv},
                 {"notification_id", v.notification_id},
                 {"endpoint", v.endpoint},
                 {"channel", ToString(v.channel)},
                 {"type", v.type},
                 {"status", ToString(v.status)},
                 {"attempts", v.attempts},
                 {"created_at", Ms(v.created_at)},
                 {"updated_at", Ms(v.updated_at)},
                 {"next_attempt_at", NullableAt(v.next_attempt_at)},
                 {"last_status_code", Nullable(v.last_status_code)},
                 {"last_error", Nullable(v.last_error)}};
  o["notification"] = v.notification ? NotificationJson(*v.notification) : json::value(nullptr);
  return json::serialize(o);
}

core::Result<DeliverySummary> DecodeDeliverySummary(std::string_view s) {
  return Decode<DeliverySummary>(s, "delivery summary", [](const json::object& o) {
    DeliverySummary v;
    v.notification_id = std::string(o.at("notification_id").as_string());
    v.endpoint = std::string(o.at("endpoint").as_string());
    v.channel = Required(ParseChannel(o.at("channel").as_string()), "channel");
    v.type = std::string(o.at("type").as_string());
    v.status = Required(ParseDeliveryStatus(o.at("status").as_string()), "delivery status");
    v.attempts = o.at("attempts").to_number<int>();
    v.created_at = At(o.at("created_at"));
    v.updated_at = At(o.at("updated_at"));
    v.next_attempt_at = OptAt(o, "next_attempt_at");
    v.last_status_code = OptInt(o, "last_status_code");
    v.last_error = OptStr(o, "last_error");
    if (auto* n = o.if_contains("notification"); n && !n->is_null()) v.notification = NotificationFrom(*n);
    return v;
  });
}

std::string Encode(const DeliveryAttempt& v) {
  return json::serialize(json::object{{"fv", kFv},
                                      {"attempt", v.attempt},
                                      {"at", Ms(v.at)},
                                      {"duration_ms", v.duration_ms},
                                      {"status_code", Nullable(v.status_code)},
                                      {"error", Nullable(v.error)},
                                      {"outcome", v.outcome}});
}

core::Result<DeliveryAttempt> DecodeDeliveryAttempt(std::string_view s) {
  return Decode<DeliveryAttempt>(s, "delivery attempt", [](const json::object& o) {
    DeliveryAttempt v;
    v.attempt = o.at("attempt").to_number<int>();
    v.at = At(o.at("at"));
    v.duration_ms = o.at("duration_ms").to_number<std::int64_t>();
    v.status_code = OptInt(o, "status_code");
    v.error = OptStr(o, "error");
    v.outcome = std::string(o.at("outcome").as_string());
    return v;
  });
}

}  // namespace streetwise::notify
