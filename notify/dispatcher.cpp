#include "notify/dispatcher.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/crypto.hpp"
#include "notify/answer_link.hpp"
#include "notify/notify_store.hpp"
#include "notify/outbox.hpp"
#include "notify/quiet_hours.hpp"
#include "notify/records.hpp"
#include "notify/render.hpp"
#include "notify/signature.hpp"
#include "notify/transport.hpp"
#include "storage/keys.hpp"

namespace streetwise::notify {
namespace json = boost::json;
namespace keys = storage::keys;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t kMaxNotificationsPerTick = 64;
constexpr std::size_t kMaxDeliveriesPerTick = 512;
constexpr std::size_t kMaxDigestItems = 200;
// A saturated endpoint's extra entries are pushed back by about one attempt's duration (an
// EWMA per endpoint), within these bounds: a hung receiver is not re-examined every tick.
constexpr std::chrono::milliseconds kMinDeferral{100};
constexpr std::chrono::milliseconds kMaxDeferral{10'000};
// Scans start near the front of the live entries, not at the front of the family: deleted
// entries leave tombstones there until compaction, and skipping tens of thousands of them every
// tick would cost more than the work itself. A fast scan (every tick) starts kFastScanLookback
// before now (new entries are due at their writer's "now", committed within milliseconds); a full
// scan (every kFullScanInterval) starts at the floor: the earliest live entry the previous full
// scan saw, but never later than kFullScanLookback before it ran (a writer delayed that long is
// still found). The first full scan after start starts at the beginning.
constexpr auto kFastScanLookback = 2s;
constexpr auto kFullScanLookback = 60s;
constexpr auto kFullScanInterval = 2s;
// The outbox depth (DispatcherStats::outbox_depth) is an exact count of the live entries: a scan
// from the full scan's floor, on the scheduler thread. It runs at most every kOutboxCountInterval,
// and never takes more than 1/kOutboxCountDuty of the scheduler's time (a large backlog is counted
// less often). RocksDB's "rocksdb.estimate-num-keys" is no substitute: it is documented as
// inaccurate with deletes, and every outbox entry ends deleted.
constexpr auto kOutboxCountInterval = 5s;
constexpr int kOutboxCountDuty = 50;
constexpr std::size_t kChannelCount = 4;  // Channel::kEmail .. Channel::kDigest
static_assert(static_cast<std::size_t>(Channel::kDigest) + 1 == kChannelCount);
constexpr int kDefaultDigestMinute = 8 * 60;  // 08:00 local without quiet hours

// A thread's title and tags for messages, when the producer did not put them in data.
void Enrich(const storage::Store& store, core::Notification& n) {
  json::object data;
  if (!n.data_json.empty()) {
    boost::system::error_code ec;
    auto v = json::parse(n.data_json, ec);
    if (!ec && v.is_object()) data = v.as_object();
  }
  if (data.contains("title")) return;
  auto t = store.GetThread(n.org_id, n.thread_id);
  if (!t) return;
  data["title"] = t->title;
  json::array tags;
  for (const auto& tag : t->tags) tags.emplace_back(tag);
  data["tags"] = std::move(tags);
  n.data_json = json::serialize(data);
}

std::string Excerpt(std::string_view s, std::size_t max) {
  if (s.size() <= max) return std::string(s);
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return std::string(s.substr(0, cut)) + "…";
}

std::string MailDomain(const std::string& from) {
  auto at = from.rfind('@');
  if (at == std::string::npos || at + 1 >= from.size()) return "streetwise.invalid";
  return from.substr(at + 1);
}

// Strips a display name: "Streetwise <a@b>" -> "a@b".
std::string BareAddress(const std::string& from) {
  auto lt = from.find('<');
  auto gt = from.rfind('>');
  if (lt != std::string::npos && gt != std::string::npos && gt > lt) return from.substr(lt + 1, gt - lt - 1);
  return from;
}

bool Subscribed(const Webhook& w, const std::string& type) {
  for (const auto& e : w.events) {
    if (e == type || e == "*") return true;
  }
  return false;
}

}  // namespace

struct Dispatcher::Impl {
  // What the scheduler handed to the transport, and what came back.
  struct Completion {
    std::string outbox_key;
    std::string endpoint_key;  // for the in-flight accounting
    DeliveryEntry entry;
    core::TimePoint started_at;
    TransferResult result;
    std::vector<std::string> digest_ids;  // digest: the d/ items the message contained
    std::optional<std::string> cancel_reason;
  };

  storage::Store& store;
  const core::Clock& clock;
  InboxHub& hub;
  std::string link_key;
  DispatcherOptions options;
  std::unique_ptr<Transport> transport;

  mutable std::mutex mu;
  std::condition_variable sched_cv;
  std::condition_variable commit_cv;
  bool stopping = false;
  bool commit_stopping = false;
  bool kicked = false;
  std::unordered_set<std::string> in_flight_keys;
  std::unordered_map<std::string, std::size_t> endpoint_in_flight;
  std::unordered_map<std::string, double> endpoint_attempt_ms;  // EWMA of attempt durations
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> endpoint_busy_since;
  std::deque<Completion> completions;
  DispatcherStats stats;                                // `channels` is kept in `channel_attempts`
  std::array<ChannelAttempts, kChannelCount> channel_attempts{};  // indexed by Channel

  std::thread scheduler;
  std::thread committer;
  bool started = false;
  std::once_flag stop_once;

  // Scheduler-thread state.
  std::uint64_t position = 0;
  std::unordered_map<std::string, std::uint64_t> heads;  // org/user -> last inbox position
  std::chrono::steady_clock::time_point last_full_scan{};
  std::optional<core::TimePoint> scan_floor;  // see kFullScanLookback
  std::chrono::steady_clock::time_point next_outbox_count{};
  std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> uniform{0.0, 1.0};

  Impl(storage::Store& s, const core::Clock& c, InboxHub& h, std::string key, DispatcherOptions o)
      : store(s), clock(c), hub(h), link_key(std::move(key)), options(std::move(o)) {}

  bool EmailEnabled() const { return !options.smtp_url.empty(); }

  // ---------------------------------------------------------------- change-log trigger

  void ConsumeChangeLog() {
    if (store.VisibleHead() <= position) return;
    auto events = store.ReadChangeLog(position, 256);
    if (!events) {
      spdlog::error("notify: cannot read the change log after {}: {}", position, events.error().cause);
      return;
    }
    if (events->empty()) return;
    storage::Mutation m;
    std::uint64_t last = position;
    std::set<std::string> ids;
    for (const auto& e : *events) {
      last = e.seq;
      if (e.type == core::EventType::kAnswerCreated && e.thread_id && e.answer_id) {
        AnswerNotification(e, m, ids);
      }
    }
    m.SetMeta(keys::kMetaNotifyPosition, std::to_string(last));
    // Without fsync (see "Durability of the dispatcher's own writes" in dispatcher.hpp).
    auto committed = store.CommitRelaxed(std::move(m));
    if (!committed) {
      spdlog::error("notify: cannot record change-log position {}: {}", last, committed.error().cause);
      return;
    }
    position = last;
    std::lock_guard lock(mu);
    stats.consumed_seq = position;
  }

  void AnswerNotification(const core::Event& e, storage::Mutation& m, std::set<std::string>& ids) {
    auto t = store.GetThread(e.org_id, *e.thread_id);
    if (!t) return;  // deleted since
    const core::Answer* a = t->FindAnswer(*e.answer_id);
    if (!a || a->author_id == t->author_id) return;
    auto now = clock.Now();
    if (now - a->created_at > options.news_horizon) return;  // history (import, restore): not news
    core::Notification n;
    n.id = NotificationIdFor(fmt::format("answer.created:{}", a->id), t->author_id, a->created_at);
    if (!ids.insert(n.id).second) return;
    n.org_id = t->org_id;
    n.type = core::kNotifyThreadAnswered;
    n.thread_id = t->id;
    n.recipient_user_id = t->author_id;
    n.created_at = now;
    if (t->deal.needed_by) {
      auto due = core::ParseTimestamp(*t->deal.needed_by, true);
      n.urgent = due && *due - now <= std::chrono::hours(24);
    }
    json::array tags;
    for (const auto& tag : t->tags) tags.emplace_back(tag);
    json::object data{{"title", t->title},
                      {"tags", std::move(tags)},
                      {"kind", core::ToString(t->kind)},
                      {"answer_id", a->id},
                      {"answered_by", a->author_id},
                      {"answer_excerpt", Excerpt(a->body, 280)}};
    if (auto who = store.GetUser(t->org_id, a->author_id)) data["answered_by_name"] = who->name;
    n.data_json = json::serialize(data);
    Enqueue(m, n);
  }

  // ---------------------------------------------------------------- expansion

  std::uint64_t NextPosition(const std::string& org, const std::string& user) {
    std::string k = org + "/" + user;
    auto it = heads.find(k);
    if (it == heads.end()) {
      std::uint64_t head = 0;
      if (auto raw = store.GetRaw(keys::kCfInbox, InboxHeadKey(org, user)); raw && *raw) {
        head = std::strtoull((*raw)->c_str(), nullptr, 10);
      }
      it = heads.emplace(k, head).first;
    }
    return ++it->second;
  }

  void AddDelivery(storage::Mutation& m, const core::Notification& n, Channel channel, std::string delivery_id,
                   std::string endpoint, std::optional<std::string> user_id, core::TimePoint due,
                   core::TimePoint now) {
    DeliveryEntry e;
    e.delivery_id = std::move(delivery_id);
    e.channel = channel;
    e.org_id = n.org_id;
    e.endpoint = endpoint;
    e.user_id = std::move(user_id);
    e.notification = n;
    e.created_at = now;
    m.PutRaw(keys::kCfOutbox, OutboxKey(due, e.delivery_id), Encode(e));
    DeliverySummary s;
    s.notification_id = n.id;
    s.endpoint = endpoint;
    s.channel = channel;
    s.type = n.type;
    s.status = DeliveryStatus::kPending;
    s.created_at = now;
    s.updated_at = now;
    s.next_attempt_at = due;
    s.notification = n;
    m.PutRaw(keys::kCfDeliveries, DeliverySummaryKey(n.org_id, endpoint, n.id), Encode(s));
  }

  // Expands one notification into `m`; `batch` holds the dedupe keys written earlier in the same
  // mutation; `woken` collects the inboxes to wake after the commit.
  // Returns false, adding nothing to `m`, when a read failed for a reason other than "not found":
  // the notification stays in the outbox and is expanded on a later tick.
  bool Expand(const std::string& outbox_key, core::Notification n, storage::Mutation& m,
              std::set<std::string>& batch, std::set<std::pair<std::string, std::string>>& woken) {
    auto now = clock.Now();
    const std::string& org = n.org_id;
    auto hooks = ListWebhooks(store, org);
    if (!hooks) {
      spdlog::error("notify: cannot list webhooks of {}: {}", org, hooks.error().cause);
      return false;
    }
    std::optional<core::Result<core::User>> user;
    std::optional<NotificationSettings> settings;
    core::Result<std::optional<std::string>> seen = std::optional<std::string>();
    if (n.recipient_user_id) {
      const std::string& uid = *n.recipient_user_id;
      seen = store.GetRaw(keys::kCfInbox, InboxIdKey(org, uid, n.id));
      user = store.GetUser(org, uid);
      auto loaded = LoadSettings(store, org, uid);
      bool transient = !seen || (!*user && user->error().code != core::ErrorCode::kNotFound) || !loaded;
      if (transient) {
        spdlog::error("notify: cannot read the recipient {} of {}; retried", uid, n.id);
        return false;
      }
      settings = std::move(loaded).value();
    }
    m.DeleteRaw(keys::kCfOutbox, outbox_key);
    Enrich(store, n);
    if (n.recipient_user_id) {
      const std::string& uid = *n.recipient_user_id;
      std::string dedupe = InboxIdKey(org, uid, n.id);
      if (batch.count(dedupe) || *seen) {
        spdlog::debug("notify: {} already delivered to {}; dropped", n.id, uid);
      } else if (!*user) {
        spdlog::info("notify: recipient {} of {} is gone; person channels skipped", uid, n.id);
      } else {
        batch.insert(dedupe);
        const core::User& recipient = user->value();
        const NotificationSettings& st = *settings;
        std::string tz = RecipientTimeZone(store, org, uid, st);
        std::uint64_t pos = NextPosition(org, uid);
        m.PutRaw(keys::kCfInbox, InboxItemKey(org, uid, pos), Encode(InboxItem{pos, n, std::nullopt}));
        m.PutRaw(keys::kCfInbox, dedupe, std::to_string(pos));
        m.PutRaw(keys::kCfInbox, InboxUnreadKey(org, uid, pos), "");
        m.PutRaw(keys::kCfInbox, InboxHeadKey(org, uid), std::to_string(pos));
        woken.emplace(org, uid);
        core::TimePoint hold = now;
        if (!n.urgent && st.quiet_hours) hold = QuietHoursEnd(now, *st.quiet_hours, tz);
        if (EmailEnabled() && st.email && recipient.email && !recipient.email->empty()) {
          if (st.digest && !n.urgent) {
            m.PutRaw(keys::kCfInbox, DigestItemKey(org, uid, n.id), EncodeNotification(n));
            int minute = st.quiet_hours ? st.quiet_hours->end_minute : kDefaultDigestMinute;
            auto slot = NextLocalTime(now, minute, tz);
            DeliveryEntry d;
            d.delivery_id = fmt::format("digest.{}.{}.{}", org, uid, core::ToUnixMillis(slot));
            d.channel = Channel::kDigest;
            d.org_id = org;
            d.endpoint = EmailEndpoint(uid);
            d.user_id = uid;
            d.created_at = now;
            m.PutRaw(keys::kCfOutbox, OutboxKey(slot, d.delivery_id), Encode(d));
          } else {
            AddDelivery(m, n, Channel::kEmail, n.id + ".email", EmailEndpoint(uid), uid, hold, now);
          }
        }
        if (st.webhook_url) {
          AddDelivery(m, n, Channel::kUserWebhook, n.id + ".webhook", UserWebhookEndpoint(uid), uid, hold, now);
        }
      }
    }
    for (const auto& w : *hooks) {
      if (!Subscribed(w, n.type)) continue;
      std::string dedupe = DeliverySummaryKey(org, w.id, n.id);
      auto seen = store.GetRaw(keys::kCfDeliveries, dedupe);
      if (batch.count(dedupe) || (seen && *seen)) continue;
      batch.insert(dedupe);
      AddDelivery(m, n, Channel::kOrgWebhook, n.id + "." + w.id, w.id, std::nullopt, now, now);
    }
    return true;
  }

  // True when it committed at least one expansion.
  bool ExpandAll(const std::vector<std::pair<std::string, std::string>>& entries) {
    if (entries.empty()) return false;
    storage::Mutation m;
    std::set<std::string> batch;
    std::set<std::pair<std::string, std::string>> woken;
    std::size_t n_expanded = 0;
    for (const auto& [key, value] : entries) {
      auto n = DecodeNotification(value);
      if (!n) {
        // Unreadable: drop it rather than block the queue forever; the value goes to the log.
        spdlog::error("notify: dropping undecodable outbox entry: {} ({})", n.error().cause, value.substr(0, 200));
        m.DeleteRaw(keys::kCfOutbox, key);
        continue;
      }
      if (Expand(key, std::move(n).value(), m, batch, woken)) ++n_expanded;
    }
    auto committed = store.Commit(std::move(m));
    if (!committed) {
      spdlog::error("notify: expansion not committed (retried next tick): {}", committed.error().cause);
      heads.clear();  // positions handed out above were not persisted
      return false;
    }
    {
      std::lock_guard lock(mu);
      stats.expanded += n_expanded;
    }
    for (const auto& [org, uid] : woken) hub.Publish(org, uid);
    return n_expanded > 0;
  }

  // ---------------------------------------------------------------- sending

  std::optional<std::string> AnswerToken(const core::Notification& n) const {
    if (!n.recipient_user_id || n.thread_id.empty() || options.answer_link_ttl.count() <= 0) return std::nullopt;
    // Issued at the notification's creation: every retry renders identical bytes.
    AnswerLinkClaims c{n.org_id, *n.recipient_user_id, n.thread_id, n.created_at,
                       n.created_at + options.answer_link_ttl};
    return SignAnswerLink(link_key, c);
  }

  std::string EndpointKey(const DeliveryEntry& e) const {
    if (e.channel == Channel::kEmail || e.channel == Channel::kDigest) return "smtp";
    return e.org_id + "/" + e.endpoint;
  }

  void Complete(Completion c) {
    {
      std::lock_guard lock(mu);
      completions.push_back(std::move(c));
    }
    commit_cv.notify_one();
  }

  void Cancel(Completion c, std::string reason) {
    c.cancel_reason = std::move(reason);
    Complete(std::move(c));
  }

  std::vector<std::pair<std::string, std::string>> WebhookHeaders(const std::string& msg_id, const std::string& secret,
                                                                  const std::string& body) const {
    std::int64_t ts = core::ToUnixMillis(clock.Now()) / 1000;
    return {{"webhook-id", msg_id},
            {"webhook-timestamp", std::to_string(ts)},
            {"webhook-signature", SignWebhook(secret, msg_id, ts, body)}};
  }

  // Starts one delivery. The entry is already counted in flight.
  void Send(Completion c) {
    const DeliveryEntry e = c.entry;
    // The completion is captured when the transfer starts (after the digest items are known).
    auto finish = [this](Completion c) {
      return [this, c = std::move(c)](TransferResult r) mutable {
        c.result = std::move(r);
        Complete(std::move(c));
      };
    };
    auto fail = [&](std::string cause) {
      TransferResult r;
      r.error = std::move(cause);
      finish(std::move(c))(std::move(r));
    };
    switch (e.channel) {
      case Channel::kOrgWebhook: {
        auto raw = store.GetRaw(keys::kCfWebhooks, WebhookKey(e.org_id, e.endpoint));
        if (!raw) return fail(raw.error().cause);
        if (!*raw) return Cancel(std::move(c), "the webhook was deleted");
        auto w = DecodeWebhook(**raw);
        if (!w || !e.notification) return Cancel(std::move(c), "unreadable webhook or delivery");
        auto links = MakeLinks(options.public_base_url, *e.notification, std::nullopt);
        std::string body = WebhookBody(*e.notification, w->format, links);
        HttpPost post{w->url, WebhookHeaders(e.notification->id, w->secret, body), body};
        transport->Post(std::move(post), finish(std::move(c)));
        return;
      }
      case Channel::kUserWebhook: {
        auto st = LoadSettings(store, e.org_id, *e.user_id);
        if (!st) return fail(st.error().cause);
        if (!st->webhook_url || !e.notification) return Cancel(std::move(c), "the user removed their webhook");
        auto links = MakeLinks(options.public_base_url, *e.notification, AnswerToken(*e.notification));
        std::string body = WebhookBody(*e.notification, st->webhook_format, links);
        HttpPost post{*st->webhook_url, WebhookHeaders(e.notification->id, st->webhook_secret.value_or(""), body),
                      body};
        transport->Post(std::move(post), finish(std::move(c)));
        return;
      }
      case Channel::kEmail: {
        auto user = store.GetUser(e.org_id, *e.user_id);
        if (!user) return Cancel(std::move(c), "the recipient no longer exists");
        auto st = LoadSettings(store, e.org_id, *e.user_id);
        if (!st) return fail(st.error().cause);
        if (!st->email || !user->email || user->email->empty() || !e.notification) {
          return Cancel(std::move(c), "e-mail is turned off or the user has no address");
        }
        if (!EmailEnabled()) return Cancel(std::move(c), "the server has no SMTP relay (smtp_url)");
        const auto& n = *e.notification;
        auto links = MakeLinks(options.public_base_url, n, AnswerToken(n));
        auto content = RenderEmail(n, links, user->name);
        std::string domain = MailDomain(BareAddress(options.smtp_from));
        MailMessage msg;
        msg.relay_url = options.smtp_url;
        msg.from = BareAddress(options.smtp_from);
        msg.to = *user->email;
        msg.subject = content.subject;
        msg.text = std::move(content.text);
        msg.html = std::move(content.html);
        msg.headers = {{"Message-ID", fmt::format("<notif-{}@{}>", n.id, domain)},
                       {"In-Reply-To", fmt::format("<thread-{}@{}>", n.thread_id, domain)},
                       {"References", fmt::format("<thread-{}@{}>", n.thread_id, domain)},
                       {"Auto-Submitted", "auto-generated"},
                       {"List-Id", fmt::format("streetwise notifications <notifications.{}>", domain)},
                       {"X-Streetwise-Notification-Id", n.id},
                       {"X-Streetwise-Notification-Type", n.type}};
        transport->Send(std::move(msg), finish(std::move(c)));
        return;
      }
      case Channel::kDigest: {
        auto user = store.GetUser(e.org_id, *e.user_id);
        auto st = LoadSettings(store, e.org_id, *e.user_id);
        std::vector<DigestEntry> items;
        std::string prefix = UserPrefix(e.org_id, *e.user_id) + "d/";
        (void)store.ScanRaw(keys::kCfInbox, prefix, std::nullopt, [&](std::string_view id, std::string_view value) {
          auto n = DecodeNotification(value);
          c.digest_ids.emplace_back(id);  // unreadable items are dropped with the rest
          if (n) items.push_back({*n, MakeLinks(options.public_base_url, *n, AnswerToken(*n))});
          return c.digest_ids.size() < kMaxDigestItems;
        });
        if (c.digest_ids.empty()) return Cancel(std::move(c), "nothing to send");
        if (!user || !st || !st->email || !user->email || user->email->empty() || !EmailEnabled()) {
          return Cancel(std::move(c), "e-mail is turned off or the user has no address");
        }
        auto content = RenderDigest(items, user->name);
        std::string domain = MailDomain(BareAddress(options.smtp_from));
        MailMessage msg;
        msg.relay_url = options.smtp_url;
        msg.from = BareAddress(options.smtp_from);
        msg.to = *user->email;
        msg.subject = content.subject;
        msg.text = std::move(content.text);
        msg.html = std::move(content.html);
        msg.headers = {{"Message-ID", fmt::format("<{}@{}>", e.delivery_id, domain)},
                       {"Auto-Submitted", "auto-generated"},
                       {"List-Id", fmt::format("streetwise notifications <notifications.{}>", domain)},
                       {"X-Streetwise-Notification-Type", "digest"}};
        transport->Send(std::move(msg), finish(std::move(c)));
        return;
      }
    }
  }

  // ---------------------------------------------------------------- the scheduler

  // Returns true when it expanded notifications: their deliveries are due now, so scan again at once.
  bool ScanOutbox() {
    auto now = clock.Now();
    auto steady_now = std::chrono::steady_clock::now();
    auto be = [](core::TimePoint t) {
      return keys::BigEndian64(static_cast<std::uint64_t>(std::max<std::int64_t>(0, core::ToUnixMillis(t))));
    };
    std::optional<std::string> after;
    const bool full = steady_now - last_full_scan >= kFullScanInterval;
    std::optional<core::TimePoint> first_live;
    if (!full) {
      after = be(now - kFastScanLookback);
    } else {
      last_full_scan = steady_now;
      if (scan_floor) after = be(*scan_floor);
    }
    std::vector<std::pair<std::string, std::string>> notifications, deliveries;
    std::unordered_set<std::string> busy;
    {
      std::lock_guard lock(mu);
      busy = in_flight_keys;
    }
    auto st = store.ScanRaw(keys::kCfOutbox, "", after, [&](std::string_view key, std::string_view value) {
      auto parts = ParseOutboxKey(key);
      if (!parts) return true;
      if (!first_live) first_live = parts->due;
      if (parts->due > now) return false;
      std::string k(key);
      if (busy.count(k)) return true;
      if (IsDeliveryEntry(value)) {
        if (deliveries.size() < kMaxDeliveriesPerTick) deliveries.emplace_back(std::move(k), std::string(value));
      } else if (notifications.size() < kMaxNotificationsPerTick) {
        notifications.emplace_back(std::move(k), std::string(value));
      }
      return notifications.size() < kMaxNotificationsPerTick || deliveries.size() < kMaxDeliveriesPerTick;
    });
    if (!st) {
      spdlog::error("notify: outbox scan failed: {}", st.error().cause);
      return false;
    }
    if (full) scan_floor = std::min(first_live.value_or(now), now - kFullScanLookback);
    bool expanded = ExpandAll(notifications);
    Dispatch(deliveries, now);
    return expanded;
  }

  // Counts the live outbox entries for DispatcherStats::outbox_depth (see kOutboxCountInterval).
  // Starts at the full scan's floor, so the tombstones before the live entries are not walked.
  void CountOutboxIfDue() {
    auto start = std::chrono::steady_clock::now();
    if (start < next_outbox_count) return;
    std::optional<std::string> after;
    if (scan_floor) {
      after = keys::BigEndian64(
          static_cast<std::uint64_t>(std::max<std::int64_t>(0, core::ToUnixMillis(*scan_floor))));
    }
    std::uint64_t n = 0;
    auto st = store.ScanRaw(keys::kCfOutbox, "", after, [&n](std::string_view, std::string_view) {
      ++n;
      return true;
    });
    auto took = std::chrono::steady_clock::now() - start;
    next_outbox_count = start + std::max<std::chrono::steady_clock::duration>(kOutboxCountInterval,
                                                                              took * kOutboxCountDuty);
    if (!st) {
      spdlog::error("notify: outbox count failed: {}", st.error().cause);
      return;
    }
    std::lock_guard lock(mu);
    stats.outbox_depth = n;
  }

  void Dispatch(const std::vector<std::pair<std::string, std::string>>& deliveries, core::TimePoint now) {
    storage::Mutation deferrals;
    std::vector<Completion> to_send;
    {
      std::lock_guard lock(mu);
      for (const auto& [key, value] : deliveries) {
        if (in_flight_keys.size() >= options.max_in_flight) break;  // the rest stay due
        auto e = DecodeDeliveryEntry(value);
        if (!e) {
          spdlog::error("notify: dropping undecodable delivery: {}", e.error().cause);
          deferrals.DeleteRaw(keys::kCfOutbox, key);
          continue;
        }
        std::string ep = EndpointKey(*e);
        auto& n = endpoint_in_flight[ep];
        if (n >= options.max_in_flight_per_endpoint) {
          // Saturated endpoint: push the entry back by about one attempt (not an attempt itself)
          // so scans stay short and the other endpoints' entries are reached.
          // Without a finished attempt yet, how long the endpoint has been busy is the best guess
          // (it grows while a receiver hangs, so entries are not rewritten every tick).
          auto it = endpoint_attempt_ms.find(ep);
          std::chrono::milliseconds wait{0};
          if (it != endpoint_attempt_ms.end()) {
            wait = std::chrono::milliseconds(static_cast<std::int64_t>(it->second));
          } else if (auto busy = endpoint_busy_since.find(ep); busy != endpoint_busy_since.end()) {
            wait = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                         busy->second);
          }
          wait = std::clamp(wait, kMinDeferral, std::min(kMaxDeferral, options.webhook_timeout));
          deferrals.DeleteRaw(keys::kCfOutbox, key);
          deferrals.PutRaw(keys::kCfOutbox, OutboxKey(now + wait, e->delivery_id), value);
          continue;
        }
        if (n++ == 0) endpoint_busy_since[ep] = std::chrono::steady_clock::now();
        in_flight_keys.insert(key);
        Completion c;
        c.outbox_key = key;
        c.endpoint_key = ep;
        c.entry = std::move(e).value();
        c.started_at = now;
        to_send.push_back(std::move(c));
      }
      stats.in_flight = in_flight_keys.size();
    }
    for (auto& c : to_send) Send(std::move(c));
    if (!deferrals.empty()) {
      if (auto r = store.CommitRelaxed(std::move(deferrals)); !r) {
        spdlog::error("notify: deferral not committed: {}", r.error().cause);
      }
    }
  }

  void SchedulerLoop() {
    for (;;) {
      {
        std::lock_guard lock(mu);
        if (stopping) return;
      }
      bool again = false;
      try {
        ConsumeChangeLog();
        again = ScanOutbox();
        CountOutboxIfDue();
      } catch (const std::exception& e) {
        spdlog::error("notify: scheduler tick failed: {}", e.what());
      }
      if (again) continue;
      std::unique_lock lock(mu);
      sched_cv.wait_for(lock, options.poll_interval, [this] { return stopping || kicked; });
      kicked = false;
    }
  }

  // ---------------------------------------------------------------- the committer

  void Apply(Completion& c, storage::Mutation& m, core::TimePoint now, DispatcherStats& delta,
             std::array<ChannelAttempts, kChannelCount>& channel_delta) {
    DeliveryEntry& e = c.entry;
    const bool digest = e.channel == Channel::kDigest;
    std::string nid = digest ? e.delivery_id : (e.notification ? e.notification->id : e.delivery_id);
    int attempt_no = e.attempts + 1;
    int record_no = e.prior_attempts + attempt_no;
    DeliverySummary s;
    s.notification_id = nid;
    s.endpoint = e.endpoint;
    s.channel = e.channel;
    s.type = digest ? "digest" : (e.notification ? e.notification->type : "");
    s.created_at = e.created_at;
    s.updated_at = now;
    s.notification = e.notification;
    m.DeleteRaw(keys::kCfOutbox, c.outbox_key);
    if (c.cancel_reason) {
      s.status = DeliveryStatus::kCancelled;
      s.attempts = e.prior_attempts + e.attempts;
      s.last_error = c.cancel_reason;
      if (digest) {
        for (const auto& id : c.digest_ids) m.DeleteRaw(keys::kCfInbox, DigestItemKey(e.org_id, *e.user_id, id));
        if (c.digest_ids.empty()) return;  // an empty digest leaves no trace
      }
      ++delta.cancelled;
      m.PutRaw(keys::kCfDeliveries, DeliverySummaryKey(e.org_id, e.endpoint, nid), Encode(s));
      return;
    }
    const auto& r = c.result;
    auto& per_channel = channel_delta[static_cast<std::size_t>(e.channel)];
    ++per_channel.attempts;
    if (r.outcome != AttemptOutcome::kDelivered) ++per_channel.failures;
    DeliveryAttempt a;
    a.attempt = record_no;
    a.at = c.started_at;
    a.duration_ms = r.duration_ms;
    a.status_code = r.code;
    if (!r.error.empty()) a.error = r.error;
    s.attempts = record_no;
    s.last_status_code = r.code;
    if (!r.error.empty()) s.last_error = r.error;
    if (r.outcome == AttemptOutcome::kDelivered) {
      s.status = DeliveryStatus::kDelivered;
      a.outcome = "delivered";
      ++delta.delivered;
      if (digest) {
        for (const auto& id : c.digest_ids) m.DeleteRaw(keys::kCfInbox, DigestItemKey(e.org_id, *e.user_id, id));
      }
    } else {
      auto first = e.first_attempt_at.value_or(c.started_at);
      auto next = NextAttempt(options.retry, attempt_no, r.outcome, first, now, uniform(rng), r.retry_after);
      if (next) {
        e.attempts = attempt_no;
        e.first_attempt_at = first;
        e.last_error = r.error;
        m.PutRaw(keys::kCfOutbox, OutboxKey(*next, e.delivery_id), Encode(e));
        s.status = DeliveryStatus::kRetrying;
        s.next_attempt_at = *next;
        a.outcome = "retry";
        ++delta.retried;
      } else {
        s.status = DeliveryStatus::kDead;
        a.outcome = "dead";
        ++delta.dead;
        spdlog::warn("notify: delivery {} to {} is dead after {} attempt(s): {}", e.delivery_id, e.endpoint,
                     record_no, r.error);
      }
    }
    m.PutRaw(keys::kCfDeliveries, DeliverySummaryKey(e.org_id, e.endpoint, nid), Encode(s));
    m.PutRaw(keys::kCfDeliveries, DeliveryAttemptKey(e.org_id, e.endpoint, nid, record_no), Encode(a));
  }

  void CommitterLoop() {
    for (;;) {
      std::deque<Completion> batch;
      {
        std::unique_lock lock(mu);
        commit_cv.wait(lock, [this] { return commit_stopping || !completions.empty(); });
        if (completions.empty() && commit_stopping) return;
        batch.swap(completions);
      }
      storage::Mutation m;
      DispatcherStats delta;
      std::array<ChannelAttempts, kChannelCount> channel_delta{};
      auto now = clock.Now();
      for (auto& c : batch) {
        if (c.result.aborted && !c.cancel_reason) continue;  // not an attempt: stays due
        try {
          Apply(c, m, now, delta, channel_delta);
        } catch (const std::exception& ex) {
          spdlog::error("notify: cannot record the outcome of {}: {}", c.entry.delivery_id, ex.what());
        }
      }
      if (!m.empty()) {
        // On failure the entries keep their old state and are attempted again: at least once.
        if (auto r = store.CommitRelaxed(std::move(m)); !r) {
          spdlog::error("notify: delivery outcomes not committed: {}", r.error().cause);
          delta = {};
          channel_delta = {};
        }
      }
      {
        std::lock_guard lock(mu);
        for (const auto& c : batch) {
          in_flight_keys.erase(c.outbox_key);
          auto it = endpoint_in_flight.find(c.endpoint_key);
          if (it != endpoint_in_flight.end() && it->second > 0 && --it->second == 0) {
            endpoint_in_flight.erase(it);
            endpoint_busy_since.erase(c.endpoint_key);
          }
          if (!c.cancel_reason && !c.result.aborted) {
            auto [ewma, fresh] = endpoint_attempt_ms.try_emplace(c.endpoint_key, 0.0);
            double d = static_cast<double>(c.result.duration_ms);
            ewma->second = fresh ? d : 0.8 * ewma->second + 0.2 * d;
          }
        }
        stats.delivered += delta.delivered;
        stats.retried += delta.retried;
        stats.dead += delta.dead;
        stats.cancelled += delta.cancelled;
        for (std::size_t i = 0; i < kChannelCount; ++i) {
          channel_attempts[i].attempts += channel_delta[i].attempts;
          channel_attempts[i].failures += channel_delta[i].failures;
        }
        stats.in_flight = in_flight_keys.size();
        kicked = true;  // freed capacity: let the scheduler look again now
      }
      sched_cv.notify_one();
    }
  }
};

Dispatcher::Dispatcher(storage::Store& store, const core::Clock& clock, InboxHub& hub, std::string answer_link_key,
                       DispatcherOptions options)
    : impl_(std::make_unique<Impl>(store, clock, hub, std::move(answer_link_key), std::move(options))) {}

Dispatcher::~Dispatcher() { Stop(); }

core::Status Dispatcher::Start() {
  auto& impl = *impl_;
  auto pos = impl.store.GetMeta(keys::kMetaNotifyPosition);
  if (!pos) return pos.take_error();
  if (*pos) {
    impl.position = std::strtoull((*pos)->c_str(), nullptr, 10);
  } else {
    // First start: answers given before notifications existed are history, not news.
    impl.position = impl.store.VisibleHead();
    storage::Mutation m;
    m.SetMeta(keys::kMetaNotifyPosition, std::to_string(impl.position));
    auto committed = impl.store.Commit(std::move(m));
    if (!committed) return committed.take_error();
  }
  impl.stats.consumed_seq = impl.position;
  TransportOptions t;
  t.http_timeout = impl.options.webhook_timeout;
  t.smtp_timeout = impl.options.smtp_timeout;
  t.allow_private = impl.options.webhook_allow_private;
  t.threads = impl.options.transport_threads;
  impl.transport = std::make_unique<Transport>(t);
  impl.committer = std::thread([&impl] { impl.CommitterLoop(); });
  impl.scheduler = std::thread([&impl] { impl.SchedulerLoop(); });
  impl.started = true;
  return core::OkStatus();
}

void Dispatcher::Stop() {
  auto& impl = *impl_;
  std::call_once(impl.stop_once, [&impl] {
    if (!impl.started) return;
    {
      std::lock_guard lock(impl.mu);
      impl.stopping = true;
    }
    impl.sched_cv.notify_all();
    impl.scheduler.join();
    impl.transport->Stop();  // running transfers complete as aborted
    {
      std::lock_guard lock(impl.mu);
      impl.commit_stopping = true;
    }
    impl.commit_cv.notify_all();
    impl.committer.join();
  });
}

void Dispatcher::Kick() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->kicked = true;
  }
  impl_->sched_cv.notify_one();
}

DispatcherStats Dispatcher::Stats() const {
  std::lock_guard lock(impl_->mu);
  DispatcherStats out = impl_->stats;
  for (std::size_t i = 0; i < kChannelCount; ++i) {
    out.channels.emplace(ToString(static_cast<Channel>(i)), impl_->channel_attempts[i]);
  }
  return out;
}

}  // namespace streetwise::notify
