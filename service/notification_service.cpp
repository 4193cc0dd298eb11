#include "service/notification_service.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "core/crypto.hpp"
#include "core/thread_policy.hpp"
#include "notify/dispatcher.hpp"
#include "notify/notify_store.hpp"
#include "notify/quiet_hours.hpp"
#include "notify/signature.hpp"
#include "notify/url_guard.hpp"
#include "storage/keys.hpp"

namespace streetwise::service {
using core::Error;
using core::ErrorCode;
using core::Result;
namespace keys = storage::keys;

namespace {

constexpr auto kDoubleSubmitWindow = std::chrono::minutes(10);
constexpr std::size_t kMaxAttemptsShown = 50;

Error FieldError(std::string pointer, std::string detail) {
  Error e = Error::Make(ErrorCode::kInvalidArgument, detail);
  e.fields.push_back({std::move(pointer), std::move(detail)});
  return e;
}

core::Status RequireAdmin(const Caller& caller) {
  if (caller.user.role != core::Role::kAdmin) {
    return Error::Make(ErrorCode::kForbidden, "only admins manage the organisation's webhooks");
  }
  return core::OkStatus();
}

std::uint64_t ParsePosition(std::string_view be) { return keys::ParseBigEndian64(be); }

}  // namespace

NotificationService::NotificationService(storage::Store& store, const core::Clock& clock, ThreadService& threads,
                                         std::string answer_link_key, NotificationServiceOptions options,
                                         notify::Dispatcher* dispatcher)
    : store_(store),
      clock_(clock),
      threads_(threads),
      link_key_(std::move(answer_link_key)),
      options_(options),
      dispatcher_(dispatcher) {}

std::mutex& NotificationService::LockFor(const std::string& key) {
  return stripes_[std::hash<std::string>{}(key) % stripes_.size()];
}

// ---------------------------------------------------------------------------- inbox

Result<storage::Page<notify::InboxItem>> NotificationService::ListInbox(const Caller& caller, bool unread_only,
                                                                       const std::optional<std::string>& after,
                                                                       std::size_t limit) const {
  const auto& org = caller.org_id();
  const auto& uid = caller.user.id;
  storage::Page<notify::InboxItem> page;
  std::optional<Error> err;
  std::string prefix = notify::UserPrefix(org, uid) + (unread_only ? "u/" : "i/");
  std::optional<std::string> last;
  std::optional<std::string> start;  // cursors carry the decimal position
  if (after) {
    char* end = nullptr;
    std::uint64_t pos = std::strtoull(after->c_str(), &end, 10);
    if (after->empty() || *end != '\0') return Error::Make(ErrorCode::kInvalidCursor, "the cursor is not valid");
    start = keys::BigEndian64(pos);
  }
  auto st = store_.ScanRaw(
      keys::kCfInbox, prefix, start,
      [&](std::string_view key, std::string_view value) {
        if (key.size() != 8) return true;  // not a position key
        if (page.items.size() == limit) {
          page.next_key = last;
          return false;
        }
        std::optional<std::string> raw;
        if (unread_only) {
          auto item = store_.GetRaw(keys::kCfInbox, notify::InboxItemKey(org, uid, ParsePosition(key)));
          if (!item) {
            err = item.take_error();
            return false;
          }
          if (!*item) return true;  // index entry without its item: skip
          raw = std::move(**item);
        } else {
          raw = std::string(value);
        }
        auto decoded = notify::DecodeInboxItem(*raw);
        if (!decoded) {
          err = decoded.take_error();
          return false;
        }
        page.items.push_back(std::move(decoded).value());
        last = std::to_string(ParsePosition(key));
        return true;
      },
      /*reverse=*/true);
  if (!st) return st.take_error();
  if (err) return *err;
  return page;
}

Result<Written<notify::InboxItem>> NotificationService::MarkRead(const Caller& caller,
                                                                 const std::string& notification_id) {
  const auto& org = caller.org_id();
  const auto& uid = caller.user.id;
  std::lock_guard lock(LockFor(org + "/" + uid));
  auto pos_raw = store_.GetRaw(keys::kCfInbox, notify::InboxIdKey(org, uid, notification_id));
  if (!pos_raw) return pos_raw.take_error();
  if (!*pos_raw) return Error::Make(ErrorCode::kNotFound, fmt::format("no notification {} in your inbox", notification_id));
  std::uint64_t pos = std::strtoull((*pos_raw)->c_str(), nullptr, 10);
  auto raw = store_.GetRaw(keys::kCfInbox, notify::InboxItemKey(org, uid, pos));
  if (!raw) return raw.take_error();
  if (!*raw) return Error::Make(ErrorCode::kNotFound, fmt::format("no notification {} in your inbox", notification_id));
  auto item = notify::DecodeInboxItem(**raw);
  if (!item) return item.take_error();
  storage::Mutation m;
  if (!item->read_at) {
    item->read_at = clock_.Now();
    m.PutRaw(keys::kCfInbox, notify::InboxItemKey(org, uid, pos), notify::Encode(*item));
    m.DeleteRaw(keys::kCfInbox, notify::InboxUnreadKey(org, uid, pos));
  }
  auto seq = store_.Commit(std::move(m));
  if (!seq) return seq.take_error();
  return Written<notify::InboxItem>{std::move(item).value(), *seq};
}

Result<std::vector<notify::InboxItem>> NotificationService::InboxAfter(const std::string& org_id,
                                                                     const std::string& user_id, std::uint64_t after,
                                                                     std::size_t limit) const {
  std::vector<notify::InboxItem> out;
  std::optional<Error> err;
  auto st = store_.ScanRaw(keys::kCfInbox, notify::UserPrefix(org_id, user_id) + "i/", keys::BigEndian64(after),
                           [&](std::string_view, std::string_view value) {
                             auto item = notify::DecodeInboxItem(value);
                             if (!item) {
                               err = item.take_error();
                               return false;
                             }
                             out.push_back(std::move(item).value());
                             return out.size() < limit;
                           });
  if (!st) return st.take_error();
  if (err) return *err;
  return out;
}

Result<std::uint64_t> NotificationService::InboxHead(const std::string& org_id, const std::string& user_id) const {
  auto raw = store_.GetRaw(keys::kCfInbox, notify::InboxHeadKey(org_id, user_id));
  if (!raw) return raw.take_error();
  if (!*raw) return std::uint64_t{0};
  return static_cast<std::uint64_t>(std::strtoull((*raw)->c_str(), nullptr, 10));
}

// ---------------------------------------------------------------------------- settings

Result<SettingsView> NotificationService::GetSettings(const Caller& caller) const {
  auto raw = store_.GetRaw(keys::kCfInbox, notify::SettingsKey(caller.org_id(), caller.user.id));
  if (!raw) return raw.take_error();
  SettingsView v;
  if (*raw) {
    auto s = notify::DecodeSettings(**raw);
    if (!s) return s.take_error();
    v.settings = std::move(s).value();
    v.saved = true;
  }
  v.effective_timezone = notify::RecipientTimeZone(store_, caller.org_id(), caller.user.id, v.settings);
  v.email_available = options_.email_enabled && caller.user.email && !caller.user.email->empty();
  return v;
}

Result<Written<SettingsView>> NotificationService::PutSettings(const Caller& caller, const SettingsInput& in) {
  if (in.webhook_url) {
    if (auto st = notify::ValidateWebhookUrl(*in.webhook_url, options_.webhook_allow_private); !st) {
      Error e = st.take_error();
      for (auto& f : e.fields) f.pointer = "#/webhook_url";
      return e;
    }
  }
  if (in.timezone && !notify::IsKnownTimeZone(*in.timezone)) {
    return FieldError("#/timezone", fmt::format("'{}' is not an IANA time zone name", *in.timezone));
  }
  if (in.quiet_hours && in.quiet_hours->start_minute == in.quiet_hours->end_minute) {
    return FieldError("#/quiet_hours", "quiet_hours start and end must differ");
  }
  std::lock_guard lock(LockFor(caller.org_id() + "/" + caller.user.id));
  auto current = GetSettings(caller);
  if (!current) return current.take_error();
  notify::NotificationSettings s;
  s.email = in.email;
  s.webhook_url = in.webhook_url;
  s.webhook_format = in.webhook_format;
  s.quiet_hours = in.quiet_hours;
  s.timezone = in.timezone;
  s.digest = in.digest;
  s.updated_at = clock_.Now();
  // The personal webhook's signing secret survives URL changes; it is made when first needed.
  s.webhook_secret = current->settings.webhook_secret;
  if (s.webhook_url && !s.webhook_secret) s.webhook_secret = notify::NewWebhookSecret();
  storage::Mutation m;
  m.PutRaw(keys::kCfInbox, notify::SettingsKey(caller.org_id(), caller.user.id), notify::Encode(s));
  auto seq = store_.Commit(std::move(m));
  if (!seq) return seq.take_error();
  auto view = GetSettings(caller);
  if (!view) return view.take_error();
  return Written<SettingsView>{std::move(view).value(), *seq};
}

// ---------------------------------------------------------------------------- webhooks

Result<Written<notify::Webhook>> NotificationService::CreateWebhook(const Caller& caller, const NewWebhookInput& in) {
  if (auto st = RequireAdmin(caller); !st) return st.take_error();
  if (auto st = notify::ValidateWebhookUrl(in.url, options_.webhook_allow_private); !st) return st.take_error();
  const auto& known = notify::KnownNotificationTypes();
  std::vector<std::string> events;
  for (std::size_t i = 0; i < in.events.size(); ++i) {
    const auto& e = in.events[i];
    if (e != "*" && std::find(known.begin(), known.end(), e) == known.end()) {
      std::string all;
      for (const auto& k : known) all += (all.empty() ? "" : ", ") + k;
      return FieldError(fmt::format("#/events/{}", i),
                        fmt::format("unknown event type '{}'; known: {} (or * for all)", e, all));
    }
    if (std::find(events.begin(), events.end(), e) == events.end()) events.push_back(e);
  }
  if (events.empty()) return FieldError("#/events", "subscribe to at least one event type");
  std::string secret = in.secret.value_or(notify::NewWebhookSecret());
  if (secret.starts_with("whsec_")) {
    auto key = notify::SigningKey(secret);
    if (!key || key->size() < 16) {
      return FieldError("#/secret", "a whsec_ secret must carry at least 16 bytes of base64 after the prefix");
    }
  } else if (secret.size() < 16) {
    return FieldError("#/secret", "the secret must be at least 16 characters");
  }
  auto now = clock_.Now();
  notify::Webhook w;
  w.id = core::NewId("wh", now);
  w.org_id = caller.org_id();
  w.url = in.url;
  w.events = std::move(events);
  w.format = in.format;
  w.secret = std::move(secret);
  w.created_by = caller.user.id;
  w.created_at = now;
  storage::Mutation m;
  m.PutRaw(keys::kCfWebhooks, notify::WebhookKey(w.org_id, w.id), notify::Encode(w));
  auto seq = store_.Commit(std::move(m));
  if (!seq) return seq.take_error();
  return Written<notify::Webhook>{std::move(w), *seq};
}

Result<std::vector<notify::Webhook>> NotificationService::ListWebhooks(const Caller& caller) const {
  if (auto st = RequireAdmin(caller); !st) return st.take_error();
  return notify::ListWebhooks(store_, caller.org_id());
}

Result<notify::Webhook> NotificationService::AdminWebhook(const Caller& caller, const std::string& webhook_id) const {
  if (auto st = RequireAdmin(caller); !st) return st.take_error();
  if (webhook_id.find('/') != std::string::npos) {
    return Error::Make(ErrorCode::kNotFound, fmt::format("no webhook {}", webhook_id));
  }
  auto raw = store_.GetRaw(keys::kCfWebhooks, notify::WebhookKey(caller.org_id(), webhook_id));
  if (!raw) return raw.take_error();
  if (!*raw) return Error::Make(ErrorCode::kNotFound, fmt::format("no webhook {}", webhook_id));
  return notify::DecodeWebhook(**raw);
}

Result<Written<notify::Webhook>> NotificationService::DeleteWebhook(const Caller& caller,
                                                                   const std::string& webhook_id) {
  auto w = AdminWebhook(caller, webhook_id);
  if (!w) return w.take_error();
  // Pending deliveries stay in the outbox and are cancelled when they fall due (the webhook is
  // gone); the delivery log is kept.
  storage::Mutation m;
  m.DeleteRaw(keys::kCfWebhooks, notify::WebhookKey(caller.org_id(), webhook_id));
  auto seq = store_.Commit(std::move(m));
  if (!seq) return seq.take_error();
  return Written<notify::Webhook>{std::move(w).value(), *seq};
}

Result<DeliveryView> NotificationService::LoadDelivery(const std::string& org_id, const std::string& webhook_id,
                                                       const std::string& notification_id) const {
  DeliveryView v;
  std::optional<Error> err;
  bool found = false;
  auto st = store_.ScanRaw(keys::kCfDeliveries, notify::DeliverySummaryKey(org_id, webhook_id, notification_id),
                           std::nullopt, [&](std::string_view suffix, std::string_view value) {
                             if (suffix.empty()) {
                               auto s = notify::DecodeDeliverySummary(value);
                               if (!s) {
                                 err = s.take_error();
                                 return false;
                               }
                               v.summary = std::move(s).value();
                               found = true;
                               return true;
                             }
                             if (suffix.size() != 9 || suffix[0] != '/') return true;  // another id sharing the prefix
                             auto a = notify::DecodeDeliveryAttempt(value);
                             if (!a) {
                               err = a.take_error();
                               return false;
                             }
                             v.attempts.push_back(std::move(a).value());
                             return true;
                           });
  if (!st) return st.take_error();
  if (err) return *err;
  if (!found) return Error::Make(ErrorCode::kNotFound, fmt::format("no delivery {} for this webhook", notification_id));
  if (v.attempts.size() > kMaxAttemptsShown) {
    v.attempts.erase(v.attempts.begin(), v.attempts.end() - static_cast<std::ptrdiff_t>(kMaxAttemptsShown));
  }
  return v;
}

Result<storage::Page<DeliveryView>> NotificationService::ListDeliveries(const Caller& caller,
                                                                       const std::string& webhook_id,
                                                                       const std::optional<std::string>& after,
                                                                       std::size_t limit) const {
  auto w = AdminWebhook(caller, webhook_id);
  if (!w) return w.take_error();
  std::vector<std::string> ids;
  std::optional<std::string> next;
  std::string prefix = caller.org_id() + "/" + webhook_id + "/";
  auto st = store_.ScanRaw(
      keys::kCfDeliveries, prefix, after,
      [&](std::string_view suffix, std::string_view) {
        if (suffix.find('/') != std::string_view::npos) return true;  // an attempt record
        if (ids.size() == limit) {
          next = ids.back();
          return false;
        }
        ids.emplace_back(suffix);
        return true;
      },
      /*reverse=*/true);
  if (!st) return st.take_error();
  storage::Page<DeliveryView> page;
  for (const auto& id : ids) {
    auto d = LoadDelivery(caller.org_id(), webhook_id, id);
    if (!d) return d.take_error();
    page.items.push_back(std::move(d).value());
  }
  page.next_key = next;
  return page;
}

Result<Written<DeliveryView>> NotificationService::Redeliver(const Caller& caller, const std::string& webhook_id,
                                                            const std::string& delivery_id) {
  auto w = AdminWebhook(caller, webhook_id);
  if (!w) return w.take_error();
  std::lock_guard lock(LockFor(caller.org_id() + "/" + webhook_id));
  auto d = LoadDelivery(caller.org_id(), webhook_id, delivery_id);
  if (!d) return d.take_error();
  auto& s = d->summary;
  if (s.status == notify::DeliveryStatus::kPending || s.status == notify::DeliveryStatus::kRetrying) {
    return Error::Make(ErrorCode::kConflict, "this delivery is already scheduled; wait for it to finish");
  }
  if (!s.notification) return Error::Make(ErrorCode::kConflict, "this delivery has no stored payload to resend");
  auto now = clock_.Now();
  notify::DeliveryEntry e;
  e.delivery_id = s.notification->id + "." + webhook_id;
  e.channel = notify::Channel::kOrgWebhook;
  e.org_id = caller.org_id();
  e.endpoint = webhook_id;
  e.notification = s.notification;
  e.prior_attempts = s.attempts;
  e.created_at = s.created_at;
  s.status = notify::DeliveryStatus::kPending;
  s.next_attempt_at = now;
  s.updated_at = now;
  storage::Mutation m;
  m.PutRaw(keys::kCfOutbox, notify::OutboxKey(now, e.delivery_id), notify::Encode(e));
  m.PutRaw(keys::kCfDeliveries, notify::DeliverySummaryKey(e.org_id, webhook_id, delivery_id), notify::Encode(s));
  auto seq = store_.Commit(std::move(m));
  if (!seq) return seq.take_error();
  if (dispatcher_) dispatcher_->Kick();
  return Written<DeliveryView>{std::move(d).value(), *seq};
}

// ---------------------------------------------------------------------------- answer links

AnswerLinkOutcome NotificationService::Check(const std::string& token) const {
  AnswerLinkOutcome out;
  auto check = notify::VerifyAnswerLink(link_key_, token, clock_.Now());
  if (!check.claims) {
    switch (*check.error) {
      case notify::AnswerLinkError::kMalformed: out.problem = LinkProblem::kMalformed; break;
      case notify::AnswerLinkError::kTampered: out.problem = LinkProblem::kTampered; break;
      case notify::AnswerLinkError::kExpired: out.problem = LinkProblem::kExpired; break;
    }
    return out;
  }
  const auto& c = *check.claims;
  if (clock_.Now() >= c.issued_at + options_.answer_link_ttl) {
    out.problem = LinkProblem::kExpired;
    return out;
  }
  auto user = store_.GetUser(c.org_id, c.user_id);
  if (!user) {
    if (user.error().code != ErrorCode::kNotFound) out.error = user.error();
    out.problem = LinkProblem::kRevoked;
    return out;
  }
  // Revocation rule: revoking any of the user's API tokens (what an admin does when someone leaves
  // or a device is lost) also revokes every answer link issued to them before that moment.
  auto tokens = store_.ListTokens(c.org_id, c.user_id);
  if (!tokens) {
    out.error = tokens.error();
    out.problem = LinkProblem::kRevoked;
    return out;
  }
  for (const auto& t : *tokens) {
    if (t.revoked_at && *t.revoked_at >= c.issued_at) {
      out.problem = LinkProblem::kRevoked;
      return out;
    }
  }
  auto thread = store_.GetThread(c.org_id, c.thread_id);
  if (!thread) {
    out.problem = LinkProblem::kGone;
    return out;
  }
  AnswerLinkView v;
  v.thread = std::move(thread).value();
  v.expert = std::move(user).value();
  v.claims = c;
  std::set<std::string> ids{v.thread.author_id};
  for (const auto& a : v.thread.answers) ids.insert(a.author_id);
  for (const auto& id : ids) {
    if (v.names.size() >= 100) break;
    if (auto u = store_.GetUser(c.org_id, id)) v.names[id] = u->name;
  }
  out.view = std::move(v);
  return out;
}

AnswerLinkOutcome NotificationService::OpenAnswerLink(const std::string& token) const { return Check(token); }

AnswerLinkOutcome NotificationService::AnswerViaLink(const std::string& token, const std::string& body) {
  AnswerLinkOutcome out = Check(token);
  if (!out.view) return out;
  const auto& v = *out.view;
  auto now = clock_.Now();
  // A double-click or a re-sent form must not post the same answer twice.
  for (const auto& a : v.thread.answers) {
    if (a.author_id == v.expert.id && a.body == body && now - a.created_at < kDoubleSubmitWindow) {
      out.answer = a;
      return out;
    }
  }
  if (auto st = core::CheckAcceptsContributions(v.thread); !st) {
    out.problem = LinkProblem::kClosed;
    out.view.reset();
    return out;
  }
  Caller caller{v.expert, "answer-link"};
  auto written = threads_.AddAnswer(caller, v.thread.id, body);
  if (!written) {
    if (written.error().code == ErrorCode::kConflict) {
      out.problem = LinkProblem::kClosed;
      out.view.reset();
    } else if (written.error().code == ErrorCode::kNotFound) {
      out.problem = LinkProblem::kGone;
      out.view.reset();
    } else {
      out.error = written.error();
    }
    return out;
  }
  out.answer = written->value;
  return out;
}

}  // namespace streetwise::service
