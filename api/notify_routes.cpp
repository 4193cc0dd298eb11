// The in-app inbox (list, read, live stream), personal notification settings and org webhooks.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <fmt/format.h>

#include <charconv>

#include "api/route_context.hpp"
#include "core/cursor.hpp"
#include "notify/inbox_hub.hpp"
#include "notify/quiet_hours.hpp"
#include "service/notification_service.hpp"

namespace streetwise::api {
using core::Error;
using core::ErrorCode;
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

json::value Time(const std::optional<core::TimePoint>& t) {
  if (!t) return nullptr;
  return json::string(core::FormatRfc3339(*t));
}

json::object DataObject(const std::string& data_json) {
  if (data_json.empty()) return {};
  boost::system::error_code ec;
  auto v = json::parse(data_json, ec);
  if (ec || !v.is_object()) return {};
  return v.as_object();
}

json::object InboxItemJson(const notify::InboxItem& item) {
  const auto& n = item.notification;
  return json::object{{"id", n.id},
                      {"position", item.position},
                      {"type", n.type},
                      {"thread_id", n.thread_id},
                      {"assignment_id", n.assignment_id ? json::value(*n.assignment_id) : json::value(nullptr)},
                      {"urgent", n.urgent},
                      {"created_at", core::FormatRfc3339(n.created_at)},
                      {"read_at", Time(item.read_at)},
                      {"data", DataObject(n.data_json)}};
}

json::object SettingsJson(const service::SettingsView& v) {
  const auto& s = v.settings;
  json::value quiet = nullptr;
  if (s.quiet_hours) {
    quiet = json::object{{"start", notify::FormatClockTime(s.quiet_hours->start_minute)},
                         {"end", notify::FormatClockTime(s.quiet_hours->end_minute)}};
  }
  return json::object{{"email", s.email},
                      {"email_available", v.email_available},
                      {"webhook_url", s.webhook_url ? json::value(*s.webhook_url) : json::value(nullptr)},
                      {"webhook_format", notify::ToString(s.webhook_format)},
                      {"webhook_secret", s.webhook_secret ? json::value(*s.webhook_secret) : json::value(nullptr)},
                      {"quiet_hours", std::move(quiet)},
                      {"timezone", s.timezone ? json::value(*s.timezone) : json::value(nullptr)},
                      {"effective_timezone", v.effective_timezone},
                      {"digest", s.digest},
                      {"updated_at", v.saved ? Time(s.updated_at) : json::value(nullptr)}};
}

json::object WebhookJson(const notify::Webhook& w, bool with_secret) {
  json::array events;
  for (const auto& e : w.events) events.emplace_back(e);
  json::object o{{"id", w.id},
                 {"url", w.url},
                 {"events", std::move(events)},
                 {"format", notify::ToString(w.format)},
                 {"created_by", w.created_by},
                 {"created_at", core::FormatRfc3339(w.created_at)}};
  if (with_secret) o["secret"] = w.secret;
  return o;
}

json::object DeliveryJson(const service::DeliveryView& d, const std::string& webhook_id) {
  const auto& s = d.summary;
  json::array attempts;
  for (const auto& a : d.attempts) {
    attempts.push_back(json::object{{"attempt", a.attempt},
                                    {"at", core::FormatRfc3339(a.at)},
                                    {"duration_ms", a.duration_ms},
                                    {"status_code", a.status_code ? json::value(*a.status_code) : json::value(nullptr)},
                                    {"error", a.error ? json::value(*a.error) : json::value(nullptr)},
                                    {"outcome", a.outcome}});
  }
  return json::object{
      {"id", s.notification_id},
      {"webhook_id", webhook_id},
      {"type", s.type},
      {"status", notify::ToString(s.status)},
      {"attempt_count", s.attempts},
      {"created_at", core::FormatRfc3339(s.created_at)},
      {"updated_at", core::FormatRfc3339(s.updated_at)},
      {"next_attempt_at", Time(s.next_attempt_at)},
      {"last_status_code", s.last_status_code ? json::value(*s.last_status_code) : json::value(nullptr)},
      {"last_error", s.last_error ? json::value(*s.last_error) : json::value(nullptr)},
      {"attempts", std::move(attempts)}};
}

std::optional<bool> ParseBool(const std::optional<std::string>& v) {
  if (!v) return false;
  if (*v == "true" || *v == "1") return true;
  if (*v == "false" || *v == "0") return false;
  return std::nullopt;
}

// ---------------------------------------------------------------------------- inbox

asio::awaitable<Response> ListNotifications(Ctx& ctx, Call& call) {
  auto unread = ParseBool(call.Query("unread"));
  if (!unread) {
    co_return ctx.Problem(call, Error::Make(ErrorCode::kMalformed, "unread must be true or false"));
  }
  auto limit = ctx.Limit(call);
  if (!limit) co_return ctx.Problem(call, limit.error());
  const auto& who = call.Who();
  auto fp = core::QueryFingerprint(fmt::format("notifications|{}|{}|{}", who.org_id(), who.user.id, *unread));
  auto after = CursorParam(call, fp);
  if (!after) co_return ctx.Problem(call, after.error());
  auto page = ctx.deps.notifications->ListInbox(who, *unread, *after, *limit);
  if (!page) co_return ctx.Problem(call, page.error());
  json::array items;
  for (const auto& item : page->items) items.emplace_back(InboxItemJson(item));
  co_return PageResponse(call, std::move(items), page->next_key, fp);
}

asio::awaitable<Response> MarkRead(Ctx& ctx, Call& call) {
  auto written =
      co_await ctx.deps.pool->Run([&] { return ctx.deps.notifications->MarkRead(call.Who(), call.params[0]); });
  if (!written) co_return ctx.Problem(call, written.error());
  co_return WithSeq(Ctx::Json(200, InboxItemJson(written->value)), written->seq);
}

// The live stream: Server-Sent Events, one event per inbox item, `id` = the item's position.
class NotificationStream final : public BodyStream {
 public:
  using Channel = asio::experimental::concurrent_channel<void(boost::system::error_code)>;

  NotificationStream(Ctx& ctx, service::Caller caller, std::uint64_t last, asio::any_io_executor ex)
      : ctx_(ctx), caller_(std::move(caller)), last_(last), wake_(std::make_shared<Channel>(ex, 1)), timer_(ex) {
    // Subscribe before the first read: an item committed in between wakes us and is read then.
    auto ch = wake_;
    sub_ = ctx_.deps.inbox_hub->Subscribe(caller_.org_id(), caller_.user.id,
                                          [ch] { ch->try_send(boost::system::error_code{}); });
  }

  asio::awaitable<std::optional<std::string>> Next() override {
    using namespace asio::experimental::awaitable_operators;
    if (!greeted_) {
      greeted_ = true;
      co_return std::string("retry: 5000\n: connected\n\n");
    }
    for (;;) {
      if (ctx_.deps.ready && !ctx_.deps.ready->load()) co_return std::nullopt;  // shutting down
      auto items = ctx_.deps.notifications->InboxAfter(caller_.org_id(), caller_.user.id, last_, 50);
      if (!items) co_return std::nullopt;  // the client reconnects with Last-Event-ID
      if (!items->empty()) {
        std::string out;
        for (const auto& item : *items) {
          out += fmt::format("id: {}\nevent: notification\ndata: {}\n\n", item.position,
                             json::serialize(InboxItemJson(item)));
          last_ = item.position;
        }
        co_return out;
      }
      timer_.expires_after(std::chrono::seconds(ctx_.deps.sse_heartbeat_seconds));
      auto woke = co_await (wake_->async_receive(asio::as_tuple(asio::use_awaitable)) ||
                            timer_.async_wait(asio::as_tuple(asio::use_awaitable)));
      if (woke.index() == 1) co_return std::string(": keepalive\n\n");
    }
  }

 private:
  Ctx& ctx_;
  service::Caller caller_;
  std::uint64_t last_;
  std::shared_ptr<Channel> wake_;
  asio::steady_timer timer_;
  std::unique_ptr<notify::InboxHub::Subscription> sub_;
  bool greeted_ = false;
};

asio::awaitable<Response> Stream(Ctx& ctx, Call& call) {
  const auto& who = call.Who();
  auto head = ctx.deps.notifications->InboxHead(who.org_id(), who.user.id);
  if (!head) co_return ctx.Problem(call, head.error());
  std::uint64_t last = *head;  // without Last-Event-ID: only what arrives from now on
  if (auto id = call.req.Header("last-event-id")) {
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(id->data(), id->data() + id->size(), v);
    if (ec != std::errc() || p != id->data() + id->size()) {
      co_return ctx.Problem(call, Error::Make(ErrorCode::kMalformed,
                                              "Last-Event-ID must be the decimal id of an event of this stream"));
    }
    last = std::min(v, *head);
  }
  auto ex = co_await asio::this_coro::executor;
  Response r;
  r.content_type = "text/event-stream; charset=utf-8";
  r.With("X-Accel-Buffering", "no");
  r.stream = std::make_shared<NotificationStream>(ctx, who, last, ex);
  co_return r;
}

// ---------------------------------------------------------------------------- settings

asio::awaitable<Response> GetSettings(Ctx& ctx, Call& call) {
  auto v = ctx.deps.notifications->GetSettings(call.Who());
  if (!v) co_return ctx.Problem(call, v.error());
  co_return Ctx::Json(200, SettingsJson(*v));
}

asio::awaitable<Response> PutSettings(Ctx& ctx, Call& call) {
  auto body = ctx.Body(call, "NotificationSettingsInput");
  if (!body) co_return ctx.Problem(call, body.error());
  const auto& o = body->as_object();
  service::SettingsInput in;
  in.email = o.at("email").as_bool();
  in.digest = o.at("digest").as_bool();
  in.webhook_url = OptString(o, "webhook_url");
  if (auto f = OptString(o, "webhook_format")) {
    in.webhook_format = notify::ParseWebhookFormat(*f).value_or(notify::WebhookFormat::kStandard);
  }
  in.timezone = OptString(o, "timezone");
  if (auto* q = o.if_contains("quiet_hours"); q && q->is_object()) {
    auto start = notify::ParseClockTime(std::string(q->at("start").as_string()));
    auto end = notify::ParseClockTime(std::string(q->at("end").as_string()));
    if (!start || !end) {
      Error e = Error::Make(ErrorCode::kInvalidArgument, "quiet_hours start and end must be HH:MM (00:00-23:59)");
      e.fields.push_back({"#/quiet_hours", e.detail});
      co_return ctx.Problem(call, e);
    }
    in.quiet_hours = notify::QuietHours{*start, *end};
  }
  auto written = co_await ctx.deps.pool->Run([&] { return ctx.deps.notifications->PutSettings(call.Who(), in); });
  if (!written) co_return ctx.Problem(call, written.error());
  co_return WithSeq(Ctx::Json(200, SettingsJson(written->value)), written->seq);
}

// ---------------------------------------------------------------------------- webhooks

asio::awaitable<Response> CreateWebhook(Ctx& ctx, Call& call) {
  auto body = ctx.Body(call, "NewWebhook");
  if (!body) co_return ctx.Problem(call, body.error());
  const auto& o = body->as_object();
  service::NewWebhookInput in;
  in.url = std::string(o.at("url").as_string());
  for (const auto& e : o.at("events").as_array()) in.events.emplace_back(e.as_string());
  in.secret = OptString(o, "secret");
  if (auto f = OptString(o, "format")) {
    in.format = notify::ParseWebhookFormat(*f).value_or(notify::WebhookFormat::kStandard);
  }
  auto written = co_await ctx.deps.pool->Run([&] { return ctx.deps.notifications->CreateWebhook(call.Who(), in); });
  if (!written) co_return ctx.Problem(call, written.error());
  Response r = Ctx::Json(201, WebhookJson(written->value, /*with_secret=*/true));
  r.With("Location", fmt::format("/v1/webhooks/{}", written->value.id));
  co_return WithSeq(std::move(r), written->seq);
}

asio::awaitable<Response> ListWebhooks(Ctx& ctx, Call& call) {
  auto hooks = ctx.deps.notifications->ListWebhooks(call.Who());
  if (!hooks) co_return ctx.Problem(call, hooks.error());
  json::array items;
  for (const auto& w : *hooks) items.emplace_back(WebhookJson(w, false));
  co_return Ctx::Json(200, json::object{{"items", std::move(items)}});
}

asio::awaitable<Response> DeleteWebhook(Ctx& ctx, Call& call) {
  auto written = co_await ctx.deps.pool->Run(
      [&] { return ctx.deps.notifications->DeleteWebhook(call.Who(), call.params[0]); });
  if (!written) co_return ctx.Problem(call, written.error());
  Response r;
  r.status = 204;
  r.content_type.clear();
  co_return WithSeq(std::move(r), written->seq);
}

asio::awaitable<Response> ListDeliveries(Ctx& ctx, Call& call) {
  auto limit = ctx.Limit(call);
  if (!limit) co_return ctx.Problem(call, limit.error());
  const auto& who = call.Who();
  auto fp = core::QueryFingerprint(fmt::format("deliveries|{}|{}", who.org_id(), call.params[0]));
  auto after = CursorParam(call, fp);
  if (!after) co_return ctx.Problem(call, after.error());
  auto page = ctx.deps.notifications->ListDeliveries(who, call.params[0], *after, *limit);
  if (!page) co_return ctx.Problem(call, page.error());
  json::array items;
  for (const auto& d : page->items) items.emplace_back(DeliveryJson(d, call.params[0]));
  co_return PageResponse(call, std::move(items), page->next_key, fp);
}

asio::awaitable<Response> Redeliver(Ctx& ctx, Call& call) {
  auto written = co_await ctx.deps.pool->Run(
      [&] { return ctx.deps.notifications->Redeliver(call.Who(), call.params[0], call.params[1]); });
  if (!written) co_return ctx.Problem(call, written.error());
  co_return WithSeq(Ctx::Json(202, DeliveryJson(written->value, call.params[0])), written->seq);
}

}  // namespace

std::vector<Route> NotifyRoutes() {
  return {
      {"GET", "/v1/me/notifications", &ListNotifications},
      {"GET", "/v1/me/notifications/stream", &Stream},
      {"POST", "/v1/me/notifications/:id/read", &MarkRead},
      {"GET", "/v1/me/notification-settings", &GetSettings},
      {"PUT", "/v1/me/notification-settings", &PutSettings},
      {"POST", "/v1/webhooks", &CreateWebhook},
      {"GET", "/v1/webhooks", &ListWebhooks},
      {"DELETE", "/v1/webhooks/:id", &DeleteWebhook},
      {"GET", "/v1/webhooks/:id/deliveries", &ListDeliveries},
      {"POST", "/v1/webhooks/:id/deliveries/:delivery_id/redeliver", &Redeliver},
  };
}

}  // namespace streetwise::api
