// Expertise, expert routing, assignments and routing settings.
#include <fmt/format.h>

#include "api/representation.hpp"
#include "api/route_context.hpp"
#include "core/validation.hpp"
#include "service/routing_service.hpp"

namespace streetwise::api {
using core::Error;
using core::ErrorCode;
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

json::value OptTime(const std::optional<core::TimePoint>& t) {
  return t ? json::value(core::FormatRfc3339(*t)) : json::value(nullptr);
}


json::object ExpertiseJson(const routing::Expertise& e) {
  json::array tags;
  for (const auto& [tag, level] : e.tags) tags.push_back(json::object{{"tag", tag}, {"level", level}});
  json::array days;
  for (int d = 0; d < 7; ++d) {
    if (e.hours.days[d]) days.emplace_back(routing::kWeekdayNames[d]);
  }
  json::array watch;
  for (const auto& w : e.watch_tags) watch.emplace_back(w);
  return json::object{{"user_id", e.user_id},
                      {"tags", std::move(tags)},
                      {"timezone", e.timezone},
                      {"working_hours", json::object{{"start", routing::FormatHhMm(e.hours.start_minute)},
                                                     {"end", routing::FormatHhMm(e.hours.end_minute)},
                                                     {"days", std::move(days)}}},
                      {"max_open", e.max_open},
                      {"away_until", OptTime(e.away_until)},
                      {"watch_tags", std::move(watch)}};
}

json::object AssignmentJson(const service::Assignment& a) {
  return json::object{{"id", a.id},
                      {"thread_id", a.thread_id},
                      {"user_id", a.user_id},
                      {"round", a.round},
                      {"status", service::ToString(a.status)},
                      {"created_at", core::FormatRfc3339(a.created_at)},
                      {"due_at", core::FormatRfc3339(a.due_at)},
                      {"claimed_until", OptTime(a.claimed_until)},
                      {"decline_reason", a.decline_reason ? json::value(*a.decline_reason) : json::value(nullptr)},
                      {"closed_at", OptTime(a.closed_at)},
                      {"fallback", a.fallback}};
}

json::object SettingsJson(const service::OrgRoutingSettings& s) {
  json::array contacts, triage;
  for (const auto& c : s.escalation_contacts) contacts.emplace_back(c);
  for (const auto& t : s.triage_users) triage.emplace_back(t);
  return json::object{{"fanout", s.policy.fanout},
                      {"sla_seconds", s.policy.sla_seconds},
                      {"max_rounds", s.policy.max_rounds},
                      {"claim_window_seconds", s.policy.claim_window_seconds},
                      {"escalation_contacts", std::move(contacts)},
                      {"triage_users", std::move(triage)}};
}

core::Error Invalid(std::string pointer, std::string detail) {
  Error e = Error::Make(ErrorCode::kInvalidArgument, detail);
  e.fields.push_back({std::move(pointer), std::move(detail)});
  return e;
}

asio::awaitable<Response> PutExpertise(Ctx& ctx, Call& call) {
  auto body = ctx.Body(call, "ExpertiseInput");
  if (!body) co_return ctx.Problem(call, body.error());
  const auto& o = body->as_object();
  routing::Expertise e;
  const auto& tags = o.at("tags").as_array();
  for (std::size_t i = 0; i < tags.size(); ++i) {
    const auto& t = tags[i].as_object();
    auto tag = core::NormaliseTag(t.at("tag").as_string());
    if (!tag) co_return ctx.Problem(call, Invalid(fmt::format("#/tags/{}/tag", i), tag.error().detail));
    e.tags[*tag] = static_cast<int>(t.at("level").to_number<std::int64_t>());
  }
  if (auto* tz = o.if_contains("timezone")) e.timezone = std::string(tz->as_string());
  if (auto* wh = o.if_contains("working_hours")) {
    const auto& w = wh->as_object();
    e.hours.start_minute = routing::ParseHhMm(w.at("start").as_string());
    e.hours.end_minute = routing::ParseHhMm(w.at("end").as_string());
    if (e.hours.start_minute < 0 || e.hours.end_minute < 0) {
      co_return ctx.Problem(call, Invalid("#/working_hours", "start and end must be HH:MM (00:00 to 24:00)"));
    }
    if (auto* days = w.if_contains("days")) {
      e.hours.days.fill(false);
      for (const auto& d : days->as_array()) {
        int day = routing::WeekdayIndex(d.as_string());
        if (day >= 0) e.hours.days[static_cast<std::size_t>(day)] = true;  // enum-validated by the schema
      }
    }
  }
  if (auto* m = o.if_contains("max_open")) e.max_open = static_cast<int>(m->to_number<std::int64_t>());
  if (auto* away = o.if_contains("away_until"); away && away->is_string()) {
    auto t = core::ParseTimestamp(away->as_string());
    if (!t) co_return ctx.Problem(call, Invalid("#/away_until", "away_until must be an RFC 3339 UTC time or YYYY-MM-DD"));
    e.away_until = *t;
  }
  if (auto* watch = o.if_contains("watch_tags")) {
    for (const auto& w : watch->as_array()) {
      auto tag = core::NormaliseTag(w.as_string());
      if (!tag) co_return ctx.Problem(call, Invalid("#/watch_tags", tag.error().detail));
      e.watch_tags.insert(*tag);
    }
  }
  auto written = co_await ctx.deps.pool->Run(
      [&] { return ctx.deps.routing->PutExpertise(call.Who(), call.params[0], std::move(e)); });
  if (!written) co_return ctx.Problem(call, written.error());
  co_return WithSeq(Ctx::Json(200, ExpertiseJson(written->value)), written->seq);
}

asio::awaitable<Response> GetExpertise(Ctx& ctx, Call& call) {
  auto e = ctx.deps.routing->GetExpertise(call.Who(), call.params[0]);
  if (!e) co_return ctx.Problem(call, e.error());
  co_return Ctx::Json(200, ExpertiseJson(*e));
}

asio::awaitable<Response> TagExperts(Ctx& ctx, Call& call) {
  auto tag = core::NormaliseTag(call.params[0]);
  if (!tag) co_return ctx.Problem(call, Error::Make(ErrorCode::kMalformed, tag.error().detail));
  auto experts = ctx.deps.routing->ExpertsForTag(call.Who(), *tag);
  if (!experts) co_return ctx.Problem(call, experts.error());
  auto watchers = ctx.deps.routing->WatchersOfTag(call.Who(), *tag);
  if (!watchers) co_return ctx.Problem(call, watchers.error());
  json::array items, watching;
  for (const auto& x : *experts) {
    items.push_back(json::object{{"user", repr::User(x.user)},
                                 {"level", x.level},
                                 {"in_working_hours", x.in_working_hours},
                                 {"open_assignments", x.open_assignments}});
  }
  for (const auto& u : *watchers) watching.emplace_back(repr::User(u));
  co_return Ctx::Json(200, json::object{{"tag", *tag}, {"experts", std::move(items)}, {"watchers", std::move(watching)}});
}

asio::awaitable<Response> ThreadRouting(Ctx& ctx, Call& call) {
  auto r = ctx.deps.routing->Routing(call.Who(), call.params[0]);
  if (!r) co_return ctx.Problem(call, r.error());
  const auto& [rec, assignments] = *r;
  json::array rounds;
  for (const auto& round : rec.rounds) {
    json::array cands;
    for (const auto& c : round.candidates) {
      cands.push_back(json::object{{"user_id", c.user_id},
                                   {"score", c.score},
                                   {"in_working_hours", c.in_working_hours},
                                   {"eligible", c.eligible},
                                   {"selected", c.selected},
                                   {"reason", c.reason}});
    }
    rounds.push_back(json::object{{"round", round.round},
                                  {"at", core::FormatRfc3339(round.at)},
                                  {"trigger", round.trigger},
                                  {"fallback", round.fallback},
                                  {"candidates", std::move(cands)}});
  }
  json::array items;
  for (const auto& a : assignments) items.emplace_back(AssignmentJson(a));
  co_return Ctx::Json(200, json::object{{"thread_id", rec.thread_id},
                                        {"round", rec.round},
                                        {"escalated", rec.escalated},
                                        {"finished", rec.finished},
                                        {"rounds", std::move(rounds)},
                                        {"assignments", std::move(items)}});
}

asio::awaitable<Response> MyAssignments(Ctx& ctx, Call& call) {
  auto list = ctx.deps.routing->MyAssignments(call.Who());
  if (!list) co_return ctx.Problem(call, list.error());
  json::array items;
  for (const auto& a : *list) items.emplace_back(AssignmentJson(a));
  co_return Ctx::Json(200, json::object{{"items", std::move(items)}});
}

asio::awaitable<Response> Claim(Ctx& ctx, Call& call) {
  auto written = co_await ctx.deps.pool->Run([&] { return ctx.deps.routing->Claim(call.Who(), call.params[0]); });
  if (!written) co_return ctx.Problem(call, written.error());
  co_return WithSeq(Ctx::Json(200, AssignmentJson(written->value)), written->seq);
}

asio::awaitable<Response> Decline(Ctx& ctx, Call& call) {
  auto body = ctx.Body(call, "DeclineRequest");
  if (!body) co_return ctx.Problem(call, body.error());
  auto reason = service::ParseDeclineReason(body->as_object().at("reason").as_string());
  if (!reason) co_return ctx.Problem(call, Invalid("#/reason", "reason must be not_my_area, busy, away or other"));
  auto written =
      co_await ctx.deps.pool->Run([&] { return ctx.deps.routing->Decline(call.Who(), call.params[0], *reason); });
  if (!written) co_return ctx.Problem(call, written.error());
  co_return WithSeq(Ctx::Json(200, AssignmentJson(written->value)), written->seq);
}

asio::awaitable<Response> GetSettings(Ctx& ctx, Call& call) {
  auto s = ctx.deps.routing->GetSettings(call.Who());
  if (!s) co_return ctx.Problem(call, s.error());
  co_return Ctx::Json(200, SettingsJson(*s));
}

asio::awaitable<Response> PutSettings(Ctx& ctx, Call& call) {
  auto body = ctx.Body(call, "RoutingSettingsInput");
  if (!body) co_return ctx.Problem(call, body.error());
  const auto& o = body->as_object();
  auto current = ctx.deps.routing->GetSettings(call.Who());
  if (!current) co_return ctx.Problem(call, current.error());
  service::OrgRoutingSettings s = *current;
  if (auto* v = o.if_contains("fanout")) s.policy.fanout = static_cast<int>(v->to_number<std::int64_t>());
  if (auto* v = o.if_contains("sla_seconds")) s.policy.sla_seconds = v->to_number<std::int64_t>();
  if (auto* v = o.if_contains("max_rounds")) s.policy.max_rounds = static_cast<int>(v->to_number<std::int64_t>());
  if (auto* v = o.if_contains("claim_window_seconds")) s.policy.claim_window_seconds = v->to_number<std::int64_t>();
  auto ids = [](const json::value& v) {
    std::vector<std::string> out;
    for (const auto& s : v.as_array()) out.emplace_back(s.as_string());
    return out;
  };
  if (auto* v = o.if_contains("escalation_contacts")) s.escalation_contacts = ids(*v);
  if (auto* v = o.if_contains("triage_users")) s.triage_users = ids(*v);
  auto written = co_await ctx.deps.pool->Run([&] { return ctx.deps.routing->PutSettings(call.Who(), s); });
  if (!written) co_return ctx.Problem(call, written.error());
  co_return WithSeq(Ctx::Json(200, SettingsJson(written->value)), written->seq);
}

}  // namespace

std::vector<Route> RoutingRoutes() {
  return {
      {"PUT", "/v1/users/:id/expertise", &PutExpertise},
      {"GET", "/v1/users/:id/expertise", &GetExpertise},
      {"GET", "/v1/tags/:tag/experts", &TagExperts},
      {"GET", "/v1/threads/:id/routing", &ThreadRouting},
      {"GET", "/v1/me/assignments", &MyAssignments},
      {"POST", "/v1/assignments/:id/claim", &Claim},
      {"POST", "/v1/assignments/:id/decline", &Decline},
      {"GET", "/v1/org/routing-settings", &GetSettings},
      {"PUT", "/v1/org/routing-settings", &PutSettings},
  };
}

}  // namespace streetwise::api
