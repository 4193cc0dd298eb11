// /v1/insights/summary, /v1/insights/experts, /v1/insights/gaps (docs/insights.md).
// Topics and trending are in insights_topics_routes.cpp.
#include <fmt/format.h>

#include "api/insights_params.hpp"
#include "api/route_context.hpp"
#include "core/validation.hpp"
#include "insights/csv.hpp"
#include "service/insights_service.hpp"

namespace streetwise::api {
using core::Error;
using core::ErrorCode;
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

json::value OptInt(const std::optional<std::int64_t>& v) { return v ? json::value(*v) : json::value(nullptr); }
json::value OptDouble(const std::optional<double>& v) { return v ? json::value(*v) : json::value(nullptr); }
std::string CsvInt(const std::optional<std::int64_t>& v) { return v ? std::to_string(*v) : std::string(); }
std::string CsvDouble(const std::optional<double>& v) { return v ? fmt::format("{:.4f}", *v) : std::string(); }

json::object LatencyJson(const service::LatencyFigures& f) {
  return json::object{{"count", f.count}, {"p50_seconds", OptInt(f.p50_seconds)}, {"p90_seconds", OptInt(f.p90_seconds)}};
}

json::object SliceJson(const service::SliceFigures& f) {
  return json::object{{"name", f.name},
                      {"threads", f.threads},
                      {"unanswered", f.unanswered},
                      {"answered", f.answered},
                      {"time_to_first_answer", LatencyJson(f.first_answer)},
                      {"time_to_accepted_answer", LatencyJson(f.accepted)},
                      {"answered_within_sla", f.answered_within_sla},
                      {"within_sla_share", OptDouble(f.within_sla_share)},
                      {"escalations", f.escalations}};
}

insights::CsvRow SliceRow(std::string scope, const service::SliceFigures& f) {
  return {std::move(scope),
          f.name,
          std::to_string(f.threads),
          std::to_string(f.unanswered),
          std::to_string(f.answered),
          CsvInt(f.first_answer.p50_seconds),
          CsvInt(f.first_answer.p90_seconds),
          CsvInt(f.accepted.p50_seconds),
          CsvInt(f.accepted.p90_seconds),
          std::to_string(f.answered_within_sla),
          CsvDouble(f.within_sla_share),
          std::to_string(f.escalations)};
}

json::object PeriodJson(const InsightsPeriodParam& p) {
  return json::object{{"from", core::FormatRfc3339(p.from)}, {"to", core::FormatRfc3339(p.to)}};
}

core::Result<std::optional<std::string>> TagParam(const Call& call) {
  auto raw = call.Query("tag");
  if (!raw) return std::optional<std::string>();
  auto tag = core::NormaliseTag(*raw);
  if (!tag) return Error::Make(ErrorCode::kMalformed, tag.error().detail);
  return std::optional<std::string>(std::move(tag).value());
}

core::Result<std::optional<std::string>> RegionParam(const Call& call) {
  auto raw = call.Query("region");
  if (!raw) return std::optional<std::string>();
  if (raw->empty() || raw->size() > 100 || !core::IsValidUtf8(*raw)) {
    return Error::Make(ErrorCode::kMalformed, "region must be 1 to 100 characters of UTF-8");
  }
  return raw;
}

// An integer query parameter in [min, max], `fallback` when absent.
core::Result<std::int64_t> IntParam(const Call& call, std::string_view name, std::int64_t fallback, std::int64_t min,
                                    std::int64_t max) {
  auto v = call.IntQuery(name, min, max);
  if (!v) return v.take_error();
  return v->value_or(fallback);
}

// Waits (bounded) for `after_seq` so a client sees the effect of its own writes.
core::Status AwaitSeq(Ctx& ctx, const Call& call) {
  auto seq = call.AfterSeq();
  if (!seq) return seq.take_error();
  if (*seq && **seq > 0) ctx.deps.insights->WaitForSeq(**seq, kMaxReadYourWritesWait);
  return core::OkStatus();
}

asio::awaitable<Response> Summary(Ctx& ctx, Call& call) {
  if (auto st = service::CheckInsightsReader(call.Who()); !st) co_return ctx.Problem(call, st.error());
  auto period = ParseInsightsPeriod(call, core::SystemClock().Now());
  if (!period) co_return ctx.Problem(call, period.error());
  auto tag = TagParam(call);
  if (!tag) co_return ctx.Problem(call, tag.error());
  auto region = RegionParam(call);
  if (!region) co_return ctx.Problem(call, region.error());
  auto sla_hours = IntParam(call, "sla_hours", 24, 1, 24 * 90);
  if (!sla_hours) co_return ctx.Problem(call, sla_hours.error());
  service::SummaryQuery q{{period->from, period->to}, *tag, *region, *sla_hours * 3600, 10};
  auto s = co_await ctx.deps.pool->Run([&]() -> core::Result<service::InsightsSummary> {
    if (auto st = AwaitSeq(ctx, call); !st) return st.take_error();
    return ctx.deps.insights->Summary(call.Who(), q);
  });
  if (!s) co_return ctx.Problem(call, s.error());

  if (WantsCsv(call)) {
    std::vector<insights::CsvRow> rows{SliceRow("all", s->overall)};
    for (const auto& f : s->by_tag) rows.push_back(SliceRow("tag", f));
    for (const auto& f : s->by_region) rows.push_back(SliceRow("region", f));
    co_return CsvResponse(insights::ToCsv({"scope", "name", "threads", "unanswered", "answered",
                                           "first_answer_p50_seconds", "first_answer_p90_seconds",
                                           "accepted_p50_seconds", "accepted_p90_seconds", "answered_within_sla",
                                           "within_sla_share", "escalations"},
                                          rows),
                          "summary");
  }
  json::object by_kind;
  for (const auto& [kind, statuses] : s->by_kind) {
    json::object o;
    std::int64_t total = 0;
    for (const auto& [status, n] : statuses) {
      o[core::ToString(status)] = n;
      total += n;
    }
    o["total"] = total;
    by_kind[core::ToString(kind)] = std::move(o);
  }
  auto now = core::SystemClock().Now();
  json::array oldest;
  for (const auto& u : s->oldest_unanswered) {
    json::array tags;
    for (const auto& t : u.tags) tags.emplace_back(t);
    oldest.push_back(json::object{{"thread_id", u.id},
                                  {"title", u.title},
                                  {"kind", core::ToString(u.kind)},
                                  {"tags", std::move(tags)},
                                  {"region", u.region ? json::value(*u.region) : json::value(nullptr)},
                                  {"created_at", core::FormatRfc3339(u.created_at)},
                                  {"age_seconds", std::max<std::int64_t>(0, (core::ToUnixMillis(now) - core::ToUnixMillis(u.created_at)) / 1000)}});
  }
  json::array by_tag, by_region;
  for (const auto& f : s->by_tag) by_tag.push_back(SliceJson(f));
  for (const auto& f : s->by_region) by_region.push_back(SliceJson(f));
  json::object body = SliceJson(s->overall);
  body.erase("name");
  body["period"] = PeriodJson(*period);
  body["filters"] = json::object{{"tag", *tag ? json::value(**tag) : json::value(nullptr)},
                                 {"region", *region ? json::value(**region) : json::value(nullptr)}};
  body["sla_seconds"] = q.sla_seconds;
  body["by_kind"] = std::move(by_kind);
  body["oldest_unanswered"] = std::move(oldest);
  body["by_tag"] = std::move(by_tag);
  body["by_region"] = std::move(by_region);
  co_return Ctx::Json(200, body);
}

asio::awaitable<Response> Experts(Ctx& ctx, Call& call) {
  if (auto st = service::CheckInsightsReader(call.Who()); !st) co_return ctx.Problem(call, st.error());
  auto period = ParseInsightsPeriod(call, core::SystemClock().Now());
  if (!period) co_return ctx.Problem(call, period.error());
  auto tag = TagParam(call);
  if (!tag) co_return ctx.Problem(call, tag.error());
  service::ExpertsQuery q{{period->from, period->to}, *tag};
  auto experts = co_await ctx.deps.pool->Run([&]() -> core::Result<std::vector<service::ExpertFigures>> {
    if (auto st = AwaitSeq(ctx, call); !st) return st.take_error();
    return ctx.deps.insights->Experts(call.Who(), q);
  });
  if (!experts) co_return ctx.Problem(call, experts.error());
  if (WantsCsv(call)) {
    std::vector<insights::CsvRow> rows;
    for (const auto& e : *experts) {
      rows.push_back({e.user.id, e.user.name, std::string(core::ToString(e.user.role)), std::to_string(e.assignments),
                      std::to_string(e.declined), std::to_string(e.answered), std::to_string(e.accepted_answers),
                      CsvDouble(e.accepted_rate), CsvInt(e.answer_time.p50_seconds), CsvInt(e.answer_time.p90_seconds),
                      std::to_string(e.open_load)});
    }
    co_return CsvResponse(insights::ToCsv({"user_id", "name", "role", "assignments", "declined", "answered",
                                           "accepted_answers", "accepted_rate", "median_answer_seconds",
                                           "p90_answer_seconds", "open_load"},
                                          rows),
                          "experts");
  }
  json::array items;
  for (const auto& e : *experts) {
    items.push_back(json::object{{"user_id", e.user.id},
                                 {"name", e.user.name},
                                 {"role", core::ToString(e.user.role)},
                                 {"assignments", e.assignments},
                                 {"declined", e.declined},
                                 {"answered", e.answered},
                                 {"accepted_answers", e.accepted_answers},
                                 {"accepted_rate", OptDouble(e.accepted_rate)},
                                 {"time_to_answer", LatencyJson(e.answer_time)},
                                 {"open_load", e.open_load}});
  }
  co_return Ctx::Json(200, json::object{{"period", PeriodJson(*period)},
                                        {"tag", *tag ? json::value(**tag) : json::value(nullptr)},
                                        {"experts", std::move(items)}});
}

asio::awaitable<Response> Gaps(Ctx& ctx, Call& call) {
  if (auto st = service::CheckInsightsReader(call.Who()); !st) co_return ctx.Problem(call, st.error());
  auto period = ParseInsightsPeriod(call, core::SystemClock().Now());
  if (!period) co_return ctx.Problem(call, period.error());
  auto sla_hours = IntParam(call, "sla_hours", 24, 1, 24 * 90);
  if (!sla_hours) co_return ctx.Problem(call, sla_hours.error());
  auto limit = IntParam(call, "limit", 20, 1, 100);
  if (!limit) co_return ctx.Problem(call, limit.error());
  service::GapsQuery q{{period->from, period->to}, *sla_hours * 3600, static_cast<std::size_t>(*limit)};
  auto g = co_await ctx.deps.pool->Run([&]() -> core::Result<service::InsightsGaps> {
    if (auto st = AwaitSeq(ctx, call); !st) return st.take_error();
    return ctx.deps.insights->Gaps(call.Who(), q);
  });
  if (!g) co_return ctx.Problem(call, g.error());
  if (WantsCsv(call)) {
    std::vector<insights::CsvRow> rows;
    for (const auto& t : g->missed_terms) rows.push_back({"missed_term", t.term, std::to_string(t.count), "", "", "", "", "", "", ""});
    for (const auto& t : g->missed_tags) rows.push_back({"missed_tag", t.term, std::to_string(t.count), "", "", "", "", "", "", ""});
    auto gap_row = [](std::string section, const service::TagGap& t) {
      return insights::CsvRow{std::move(section), t.tag, "", std::to_string(t.threads), std::to_string(t.unanswered),
                              std::to_string(t.experts), CsvInt(t.first_answer.p50_seconds), "", "", ""};
    };
    for (const auto& t : g->uncovered_tags) rows.push_back(gap_row("uncovered_tag", t));
    for (const auto& t : g->slow_tags) rows.push_back(gap_row("slow_tag", t));
    for (const auto& d : g->deflection) {
      rows.push_back({"deflection", d.tag, "", "", "", "", "", std::to_string(d.suggested), std::to_string(d.deflected),
                      CsvDouble(d.rate)});
    }
    co_return CsvResponse(insights::ToCsv({"section", "name", "count", "threads", "unanswered", "experts",
                                           "first_answer_p50_seconds", "suggested", "deflected", "deflection_rate"},
                                          rows),
                          "gaps");
  }
  auto terms = [](const std::vector<service::TermCount>& v, const char* key) {
    json::array a;
    for (const auto& t : v) a.push_back(json::object{{key, t.term}, {"count", t.count}});
    return a;
  };
  auto tag_gaps = [](const std::vector<service::TagGap>& v) {
    json::array a;
    for (const auto& t : v) {
      a.push_back(json::object{{"tag", t.tag},
                               {"threads", t.threads},
                               {"unanswered", t.unanswered},
                               {"experts", t.experts},
                               {"time_to_first_answer", LatencyJson(t.first_answer)}});
    }
    return a;
  };
  json::array deflection;
  for (const auto& d : g->deflection) {
    deflection.push_back(json::object{{"tag", d.tag}, {"suggested", d.suggested}, {"deflected", d.deflected}, {"rate", OptDouble(d.rate)}});
  }
  std::optional<double> empty_share;
  if (g->searches > 0) empty_share = static_cast<double>(g->searches_empty) / static_cast<double>(g->searches);
  co_return Ctx::Json(200, json::object{{"period", PeriodJson(*period)},
                                        {"sla_seconds", q.sla_seconds},
                                        {"searches", g->searches},
                                        {"searches_empty", g->searches_empty},
                                        {"empty_search_share", OptDouble(empty_share)},
                                        {"missed_terms", terms(g->missed_terms, "term")},
                                        {"missed_tags", terms(g->missed_tags, "tag")},
                                        {"uncovered_tags", tag_gaps(g->uncovered_tags)},
                                        {"slow_tags", tag_gaps(g->slow_tags)},
                                        {"deflection", std::move(deflection)}});
}

json::object SubscriptionJson(const service::DigestSubscription& s) {
  return json::object{{"subscribed", s.subscribed},
                      {"last_sent_week", s.last_sent_week ? json::value(*s.last_sent_week) : json::value(nullptr)}};
}

asio::awaitable<Response> PreviewDigest(Ctx& ctx, Call& call) {
  auto d = co_await ctx.deps.pool->Run([&] { return ctx.deps.insights->PreviewDigest(call.Who()); });
  if (!d) co_return ctx.Problem(call, d.error());
  json::array topics, slowest;
  for (const auto& t : d->topics) topics.push_back(json::object{{"label", t.label}, {"threads", t.threads}});
  for (const auto& u : d->summary.oldest_unanswered) {
    slowest.push_back(json::object{{"thread_id", u.id}, {"title", u.title}, {"created_at", core::FormatRfc3339(u.created_at)}});
  }
  const auto& o = d->summary.overall;
  co_return Ctx::Json(200, json::object{{"period", json::object{{"from", core::FormatRfc3339(d->period.from)},
                                                                {"to", core::FormatRfc3339(d->period.to)}}},
                                        {"title", d->title},
                                        {"text", d->text},
                                        {"threads", o.threads},
                                        {"unanswered", o.unanswered},
                                        {"time_to_first_answer", LatencyJson(o.first_answer)},
                                        {"within_sla_share", OptDouble(o.within_sla_share)},
                                        {"escalations", o.escalations},
                                        {"top_topics", std::move(topics)},
                                        {"slowest_unanswered", std::move(slowest)}});
}

asio::awaitable<Response> SendDigest(Ctx& ctx, Call& call) {
  auto n = co_await ctx.deps.pool->Run([&] { return ctx.deps.insights->SendDigestNow(call.Who()); });
  if (!n) co_return ctx.Problem(call, n.error());
  co_return WithSeq(Ctx::Json(202, json::object{{"recipients", n->value}}), n->seq);
}

asio::awaitable<Response> GetSubscription(Ctx& ctx, Call& call) {
  auto s = co_await ctx.deps.pool->Run([&] { return ctx.deps.insights->GetDigestSubscription(call.Who()); });
  if (!s) co_return ctx.Problem(call, s.error());
  co_return Ctx::Json(200, SubscriptionJson(*s));
}

asio::awaitable<Response> PutSubscription(Ctx& ctx, Call& call) {
  auto body = ctx.Body(call, "DigestSubscriptionInput");
  if (!body) co_return ctx.Problem(call, body.error());
  bool subscribed = body->as_object().at("subscribed").as_bool();
  auto s = co_await ctx.deps.pool->Run([&] { return ctx.deps.insights->PutDigestSubscription(call.Who(), subscribed); });
  if (!s) co_return ctx.Problem(call, s.error());
  co_return WithSeq(Ctx::Json(200, SubscriptionJson(s->value)), s->seq);
}

}  // namespace

core::Result<InsightsPeriodParam> ParseInsightsPeriod(const Call& call, core::TimePoint now, int max_days) {
  InsightsPeriodParam p{now - std::chrono::days(30), now};
  auto raw_to = call.Query("to");
  if (raw_to) {
    auto t = core::ParseTimestamp(*raw_to, true);
    if (!t) return Error::Make(ErrorCode::kMalformed, fmt::format("to must be YYYY-MM-DD or an RFC 3339 UTC time, got '{}'", *raw_to));
    p.to = *t;
    p.from = p.to - std::chrono::days(30);
  }
  if (auto raw = call.Query("from")) {
    auto t = core::ParseTimestamp(*raw, false);
    if (!t) return Error::Make(ErrorCode::kMalformed, fmt::format("from must be YYYY-MM-DD or an RFC 3339 UTC time, got '{}'", *raw));
    p.from = *t;
  }
  if (p.from > p.to) return Error::Make(ErrorCode::kMalformed, "from must not be after to");
  if (p.to - p.from > std::chrono::days(max_days)) {
    return Error::Make(ErrorCode::kMalformed, fmt::format("the period from..to must not be longer than {} days", max_days));
  }
  return p;
}

bool WantsCsv(const Call& call) {
  auto accept = call.req.Header("accept");
  if (!accept) return false;
  auto csv = accept->find("text/csv");
  if (csv == std::string_view::npos) return false;
  auto json_pos = accept->find("application/json");
  return json_pos == std::string_view::npos || csv < json_pos;
}

Response CsvResponse(std::string body, std::string_view name) {
  Response r;
  r.status = 200;
  r.content_type = "text/csv; charset=utf-8";
  r.body = std::move(body);
  r.With("Content-Disposition", fmt::format("inline; filename=\"{}.csv\"", name));
  r.With("Cache-Control", "no-store");
  return r;
}

std::vector<Route> InsightsRoutes() {
  return {
      {"GET", "/v1/insights/summary", &Summary},
      {"GET", "/v1/insights/experts", &Experts},
      {"GET", "/v1/insights/gaps", &Gaps},
      {"GET", "/v1/insights/digest", &PreviewDigest},
      {"POST", "/v1/insights/digest/send", &SendDigest},
      {"GET", "/v1/me/insights-digest", &GetSubscription},
      {"PUT", "/v1/me/insights-digest", &PutSubscription},
  };
}

}  // namespace streetwise::api
