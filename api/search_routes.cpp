// Search, similar-thread suggestions and deflection reports.
#include <fmt/format.h>

#include <charconv>

#include "api/representation.hpp"
#include "api/route_context.hpp"
#include "core/cursor.hpp"
#include "core/validation.hpp"
#include "service/reindex_job.hpp"
#include "service/search_service.hpp"

#include <cmath>

namespace streetwise::api {
using core::Error;
using core::ErrorCode;
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr std::size_t kMaxQueryBytes = 1000;
constexpr std::size_t kMaxSearchOffset = 10000;

core::Result<std::uint64_t> ParseUint(std::string_view name, const std::string& raw) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), v);
  if (ec != std::errc() || p != raw.data() + raw.size()) {
    return Error::Make(ErrorCode::kMalformed, fmt::format("{} must be a non-negative integer, got '{}'", name, raw));
  }
  return v;
}

asio::awaitable<Response> Search(Ctx& ctx, Call& call) {
  indexer::SearchRequest r;
  r.q = call.Query("q").value_or("");
  if (r.q.size() > kMaxQueryBytes) {
    co_return ctx.Problem(call, Error::Make(ErrorCode::kMalformed,
                                            fmt::format("q is longer than {} bytes", kMaxQueryBytes)));
  }
  if (!core::IsValidUtf8(r.q)) co_return ctx.Problem(call, Error::Make(ErrorCode::kMalformed, "q is not valid UTF-8"));
  for (const auto& [k, v] : call.query) {
    if (k != "tag") continue;
    auto tag = core::NormaliseTag(v);
    if (!tag) co_return ctx.Problem(call, Error::Make(ErrorCode::kMalformed, tag.error().detail));
    r.tags.push_back(std::move(tag).value());
  }
  if (auto k = call.Query("kind")) {
    if (!core::ParseThreadKind(*k)) {
      co_return ctx.Problem(call, Error::Make(ErrorCode::kMalformed,
                                              fmt::format("kind must be question, feature_request, complaint or tip, got '{}'", *k)));
    }
    r.kind = *k;
  }
  if (auto s = call.Query("status")) {
    if (!core::ParseThreadStatus(*s)) {
      co_return ctx.Problem(call, Error::Make(ErrorCode::kMalformed,
                                              fmt::format("status must be open, answered, resolved or closed, got '{}'", *s)));
    }
    r.status = *s;
  }
  r.author_id = call.Query("author");
  r.account = call.Query("account");
  r.region = call.Query("region");
  r.product = call.Query("product");
  for (const char* name : {"from", "to"}) {
    if (auto raw = call.Query(name)) {
      auto t = core::ParseTimestamp(*raw, std::string_view(name) == "to");
      if (!t) {
        co_return ctx.Problem(call, Error::Make(ErrorCode::kMalformed,
                                                fmt::format("{} must be YYYY-MM-DD or an RFC 3339 UTC time, got '{}'", name, *raw)));
      }
      (std::string_view(name) == "from" ? r.from : r.to) = *t;
    }
  }
  if (r.from && r.to && *r.from > *r.to) {
    co_return ctx.Problem(call, Error::Make(ErrorCode::kMalformed,
                                            fmt::format("from ({}) is after to ({})", *call.Query("from"), *call.Query("to"))));
  }
  std::string sort = call.Query("sort").value_or("relevance");
  if (sort == "relevance") {
    r.sort = indexer::SortOrder::kRelevance;
  } else if (sort == "newest") {
    r.sort = indexer::SortOrder::kNewest;
  } else if (sort == "votes") {
    r.sort = indexer::SortOrder::kVotes;
  } else {
    co_return ctx.Problem(call, Error::Make(ErrorCode::kMalformed,
                                            fmt::format("sort must be relevance, newest or votes, got '{}'", sort)));
  }
  auto limit = ctx.Limit(call);
  if (!limit) co_return ctx.Problem(call, limit.error());
  r.limit = *limit;
  auto after_seq = call.AfterSeq();
  if (!after_seq) co_return ctx.Problem(call, after_seq.error());
  // The cursor is bound to everything that defines the result set, including the organisation.
  std::string canonical = fmt::format("search|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}", call.Who().org_id(), r.q,
                                      fmt::join(r.tags, ","), r.kind.value_or(""), r.status.value_or(""),
                                      r.author_id.value_or(""), r.account.value_or(""), r.region.value_or(""),
                                      r.product.value_or(""), call.Query("from").value_or(""),
                                      call.Query("to").value_or(""), sort);
  auto fp = core::QueryFingerprint(canonical);
  auto after = CursorParam(call, fp);
  if (!after) co_return ctx.Problem(call, after.error());
  if (*after) {
    auto offset = ParseUint("cursor", **after);
    if (!offset || *offset > kMaxSearchOffset) {
      co_return ctx.Problem(call, Error::Make(ErrorCode::kInvalidCursor, "the cursor is not valid for this query"));
    }
    r.offset = *offset;
  }
  auto result = co_await ctx.deps.pool->Run(
      [&] { return ctx.deps.search->Search(call.Who(), r, *after_seq, kMaxReadYourWritesWait); });
  if (!result) co_return ctx.Problem(call, result.error());
  json::array items;
  for (const auto& h : result->results) items.emplace_back(repr::SearchHit(h));
  json::object facets;
  for (const char* name : {"tag", "kind", "status", "region", "product"}) {
    json::object counts;
    if (auto it = result->facets.find(name); it != result->facets.end()) {
      for (const auto& [value, n] : it->second) counts[value] = n;
    }
    facets[name] = std::move(counts);
  }
  std::optional<std::string> next;
  if (result->has_more && r.offset + r.limit <= kMaxSearchOffset) next = std::to_string(r.offset + r.limit);
  json::object body{{"estimated_total", result->estimated_total},
                    {"results", std::move(items)},
                    {"facets", std::move(facets)},
                    {"did_you_mean", result->did_you_mean ? json::value(*result->did_you_mean) : json::value(nullptr)}};
  co_return PageResponse(call, std::move(body), next, fp);
}

asio::awaitable<Response> Similar(Ctx& ctx, Call& call) {
  auto body = ctx.Body(call, "SimilarRequest");
  if (!body) co_return ctx.Problem(call, body.error());
  const auto& o = body->as_object();
  indexer::SimilarRequest r;
  r.title = std::string(o.at("title").as_string());
  r.body = OptString(o, "body").value_or("");
  if (auto* tags = o.if_contains("tags")) {
    std::vector<std::string> raw;
    for (const auto& t : tags->as_array()) raw.emplace_back(t.as_string());
    auto normalised = core::NormaliseTags(raw);
    if (!normalised) co_return ctx.Problem(call, normalised.error());
    r.tags = std::move(normalised).value();
  }
  auto limit = ctx.Limit(call);
  if (!limit) co_return ctx.Problem(call, limit.error());
  r.limit = std::min<std::size_t>(*limit, 20);
  if (!call.Query("limit")) r.limit = 5;
  auto result = co_await ctx.deps.pool->Run([&] { return ctx.deps.search->Similar(call.Who(), r); });
  if (!result) co_return ctx.Problem(call, result.error());
  json::array items;
  for (const auto& h : result->hits) items.emplace_back(repr::SearchHit(h));
  co_return Ctx::Json(200, json::object{{"suggestion_id", result->suggestion.id}, {"items", std::move(items)}});
}

asio::awaitable<Response> ResolveSuggestion(Ctx& ctx, Call& call) {
  auto body = ctx.Body(call, "SuggestionResolution");
  if (!body) co_return ctx.Problem(call, body.error());
  std::string thread_id(body->as_object().at("thread_id").as_string());
  auto written = co_await ctx.deps.pool->Run(
      [&] { return ctx.deps.search->ResolveSuggestion(call.Who(), call.params[0], thread_id); });
  if (!written) co_return ctx.Problem(call, written.error());
  const auto& s = written->value;
  json::array ids;
  for (const auto& id : s.thread_ids) ids.emplace_back(id);
  co_return WithSeq(Ctx::Json(200, json::object{{"id", s.id},
                                                {"thread_ids", std::move(ids)},
                                                {"resolved_thread_id", *s.resolved_thread_id},
                                                {"created_at", core::FormatRfc3339(s.created_at)}}),
                    written->seq);
}

json::object ReindexStatusJson(const service::ReindexStatus& s) {
  return json::object{{"state", s.state},
                      {"done", s.done},
                      {"total", s.total},
                      {"seconds", std::round(s.seconds * 1000) / 1000},
                      {"error", s.error.empty() ? json::value(nullptr) : json::value(s.error)}};
}

asio::awaitable<Response> StartReindex(Ctx& ctx, Call& call) {
  if (auto st = ctx.deps.reindex->Start(); !st) co_return ctx.Problem(call, st.error());
  co_return Ctx::Json(202, ReindexStatusJson(ctx.deps.reindex->Status()));
}

asio::awaitable<Response> ReindexProgress(Ctx& ctx, Call&) {
  co_return Ctx::Json(200, ReindexStatusJson(ctx.deps.reindex->Status()));
}

}  // namespace

std::vector<Route> SearchRoutes() {
  return {
      {"GET", "/v1/search", &Search},
      {"POST", "/v1/threads/similar", &Similar},
      {"POST", "/v1/suggestions/:id/resolved", &ResolveSuggestion},
      {"POST", "/v1/admin/reindex", &StartReindex},
      {"GET", "/v1/admin/reindex", &ReindexProgress},
  };
}

}  // namespace streetwise::api
