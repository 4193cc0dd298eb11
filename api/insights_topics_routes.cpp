// /v1/insights/topics and /v1/insights/trending: recurring topics and rising words/tags from the
// search index (indexer/topics.hpp; method in docs/insights.md). JSON, or text/csv on request.
#include <fmt/format.h>

#include "api/insights_params.hpp"
#include "api/route_context.hpp"
#include "core/model.hpp"
#include "insights/csv.hpp"
#include "service/insights_service.hpp"
#include "service/search_service.hpp"

namespace streetwise::api {
using core::Error;
using core::ErrorCode;
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr int kMaxPeriodDays = 366;  // topics and trending compare a period with the one before it
constexpr std::int64_t kDefaultLimit = 10;
constexpr std::int64_t kMaxLimit = 50;

struct Common {
  InsightsPeriodParam period;
  std::size_t limit = kDefaultLimit;
  std::optional<std::uint64_t> after_seq;
};

core::Result<Common> ParseCommon(const Call& call) {
  Common c;
  auto period = ParseInsightsPeriod(call, core::SystemClock().Now(), kMaxPeriodDays);
  if (!period) return period.take_error();
  c.period = *period;
  auto limit = call.IntQuery("limit", 1, kMaxLimit);
  if (!limit) return limit.take_error();
  c.limit = static_cast<std::size_t>(limit->value_or(kDefaultLimit));
  auto seq = call.AfterSeq();
  if (!seq) return seq.take_error();
  c.after_seq = *seq;
  return c;
}

json::object PeriodJson(core::TimePoint from, core::TimePoint to) {
  return json::object{{"from", core::FormatRfc3339(from)}, {"to", core::FormatRfc3339(to)}};
}

json::value OptDouble(const std::optional<double>& v) { return v ? json::value(*v) : json::value(nullptr); }
std::string CsvDouble(const std::optional<double>& v) { return v ? fmt::format("{:.4f}", *v) : std::string(); }

json::array Strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

asio::awaitable<Response> Topics(Ctx& ctx, Call& call) {
  if (auto st = service::CheckInsightsReader(call.Who()); !st) co_return ctx.Problem(call, st.error());
  auto common = ParseCommon(call);
  if (!common) co_return ctx.Problem(call, common.error());
  indexer::TopicsRequest r;
  if (auto kind = call.Query("kind")) {
    if (!core::ParseThreadKind(*kind)) {
      co_return ctx.Problem(call, Error::Make(ErrorCode::kMalformed,
                                              fmt::format("kind must be feature_request, complaint, question or tip, got '{}'",
                                                          *kind)));
    }
    r.kind = *kind;
  }
  r.from = common->period.from;
  r.to = common->period.to;
  r.limit = common->limit;
  auto result = co_await ctx.deps.pool->Run(
      [&] { return ctx.deps.search->Topics(call.Who(), r, common->after_seq, kMaxReadYourWritesWait); });
  if (!result) co_return ctx.Problem(call, result.error());

  if (WantsCsv(call)) {
    std::vector<insights::CsvRow> rows;
    for (const auto& t : result->topics) {
      rows.push_back({t.label, std::to_string(t.thread_count), std::to_string(t.account_count),
                      std::to_string(t.previous_thread_count), CsvDouble(t.growth),
                      fmt::format("{}", fmt::join(t.example_thread_ids, " ")), fmt::format("{}", fmt::join(t.terms, " "))});
    }
    co_return CsvResponse(insights::ToCsv({"label", "threads", "accounts", "previous_threads", "growth",
                                           "example_thread_ids", "terms"},
                                          rows),
                          "topics");
  }
  json::array topics;
  for (const auto& t : result->topics) {
    topics.push_back(json::object{{"label", t.label},
                                  {"terms", Strings(t.terms)},
                                  {"threads", t.thread_count},
                                  {"accounts", t.account_count},
                                  {"previous_threads", t.previous_thread_count},
                                  {"growth", OptDouble(t.growth)},
                                  {"example_thread_ids", Strings(t.example_thread_ids)}});
  }
  co_return Ctx::Json(200, json::object{{"period", PeriodJson(r.from, r.to)},
                                        {"previous_period", PeriodJson(result->previous_from, result->previous_to)},
                                        {"kind", r.kind ? json::value(*r.kind) : json::value(nullptr)},
                                        {"threads_in_period", result->threads_in_period},
                                        {"sampled_threads", result->sampled_threads},
                                        {"topics", std::move(topics)}});
}

asio::awaitable<Response> Trending(Ctx& ctx, Call& call) {
  if (auto st = service::CheckInsightsReader(call.Who()); !st) co_return ctx.Problem(call, st.error());
  auto common = ParseCommon(call);
  if (!common) co_return ctx.Problem(call, common.error());
  indexer::TrendingRequest r;
  r.from = common->period.from;
  r.to = common->period.to;
  r.limit = common->limit;
  auto result = co_await ctx.deps.pool->Run(
      [&] { return ctx.deps.search->Trending(call.Who(), r, common->after_seq, kMaxReadYourWritesWait); });
  if (!result) co_return ctx.Problem(call, result.error());
  auto type = [](indexer::TrendingItem::Type t) { return t == indexer::TrendingItem::Type::kTag ? "tag" : "term"; };

  if (WantsCsv(call)) {
    std::vector<insights::CsvRow> rows;
    for (const auto& i : result->items) {
      rows.push_back({type(i.type), i.value, std::to_string(i.count), std::to_string(i.previous_count),
                      CsvDouble(i.growth)});
    }
    co_return CsvResponse(insights::ToCsv({"type", "value", "count", "previous_count", "growth"}, rows), "trending");
  }
  json::array items;
  for (const auto& i : result->items) {
    items.push_back(json::object{{"type", type(i.type)},
                                 {"value", i.value},
                                 {"count", i.count},
                                 {"previous_count", i.previous_count},
                                 {"growth", OptDouble(i.growth)}});
  }
  co_return Ctx::Json(200, json::object{{"period", PeriodJson(r.from, r.to)},
                                        {"previous_period", PeriodJson(result->previous_from, result->previous_to)},
                                        {"threads_in_period", result->threads_in_period},
                                        {"previous_threads", result->previous_threads},
                                        {"sampled_threads", result->sampled_threads},
                                        {"items", std::move(items)}});
}

}  // namespace

std::vector<Route> InsightsTopicsRoutes() {
  return {
      {"GET", "/v1/insights/topics", &Topics},
      {"GET", "/v1/insights/trending", &Trending},
  };
}

}  // namespace streetwise::api
