#include "service/search_service.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

#include "core/crypto.hpp"
#include "insights/contribution.hpp"
#include "service/insights_service.hpp"

namespace streetwise::service {
using core::Error;
using core::ErrorCode;
using core::Result;

namespace {

// The lower-cased alphanumeric words of a query, for the search-miss counters.
std::vector<std::string> Words(const std::string& q) {
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    if (cur.size() >= 2 && cur.size() <= 40 && std::find(out.begin(), out.end(), cur) == out.end()) out.push_back(cur);
    cur.clear();
  };
  for (char c : q) {
    auto uc = static_cast<unsigned char>(c);
    if (std::isalnum(uc)) {
      cur.push_back(static_cast<char>(std::tolower(uc)));
    } else {
      flush();
    }
  }
  flush();
  if (out.size() > 10) out.resize(10);
  return out;
}

}  // namespace

Result<indexer::SearchResponse> SearchService::Search(const Caller& caller, indexer::SearchRequest request,
                                                      std::optional<std::uint64_t> after_seq,
                                                      std::chrono::milliseconds wait) {
  request.org_id = caller.org_id();  // never taken from the client
  if (after_seq) index_.WaitForSeq(*after_seq, wait);
  auto result = index_.Search(request);
  if (!result) return result;
  if (request.offset == 0) {
    storage::Mutation m;
    // Day-keyed counters feed GET /v1/insights/gaps (docs/insights.md).
    auto day = insights::DayOf(clock_.Now());
    m.AddToCounter(caller.org_id(), "searches", 1);
    m.AddToCounter(caller.org_id(), "searches/" + day, 1);
    if (result->results.empty() && !request.q.empty()) {
      m.AddToCounter(caller.org_id(), "searches_empty", 1);
      m.AddToCounter(caller.org_id(), "searches_empty/" + day, 1);
      for (const auto& w : Words(request.q)) m.AddToCounter(caller.org_id(), "search_miss_term/" + day + "/" + w, 1);
      for (const auto& t : request.tags) m.AddToCounter(caller.org_id(), "search_miss_tag/" + day + "/" + t, 1);
    }
    // Statistics only: losing one to a crash is acceptable, failing the search for it is not.
    if (auto st = store_.CommitRelaxed(std::move(m)); !st) {
      spdlog::warn("search statistics not recorded: {}", st.error().cause);
    }
  }
  return result;
}

Result<indexer::TopicsResponse> SearchService::Topics(const Caller& caller, indexer::TopicsRequest request,
                                                      std::optional<std::uint64_t> after_seq,
                                                      std::chrono::milliseconds wait) {
  if (auto st = CheckInsightsReader(caller); !st) return st.take_error();
  request.org_id = caller.org_id();
  if (after_seq) index_.WaitForSeq(*after_seq, wait);
  return index_.Topics(request);
}

Result<indexer::TrendingResponse> SearchService::Trending(const Caller& caller, indexer::TrendingRequest request,
                                                          std::optional<std::uint64_t> after_seq,
                                                          std::chrono::milliseconds wait) {
  if (auto st = CheckInsightsReader(caller); !st) return st.take_error();
  request.org_id = caller.org_id();
  if (after_seq) index_.WaitForSeq(*after_seq, wait);
  return index_.Trending(request);
}

Result<SimilarResult> SearchService::Similar(const Caller& caller, indexer::SimilarRequest request) {
  request.org_id = caller.org_id();
  auto hits = index_.Similar(request);
  if (!hits) return hits.take_error();
  auto now = clock_.Now();
  core::Suggestion s;
  s.id = core::NewId("s", now);
  s.org_id = caller.org_id();
  s.user_id = caller.user.id;
  s.tags = request.tags;
  s.created_at = now;
  for (const auto& h : *hits) s.thread_ids.push_back(h.thread_id);
  storage::Mutation m;
  m.PutSuggestion(s);
  m.AddToCounter(caller.org_id(), "suggestions_shown", 1);
  for (const auto& t : s.tags) m.AddToCounter(caller.org_id(), "suggested_tag/" + insights::DayOf(now) + "/" + t, 1);
  if (auto st = store_.CommitRelaxed(std::move(m)); !st) return st.take_error();
  return SimilarResult{std::move(s), std::move(hits).value()};
}

Result<std::vector<indexer::SearchHit>> SearchService::SimilarTo(const Caller& caller, const core::Thread& thread,
                                                                 std::size_t limit) {
  indexer::SimilarRequest r;
  r.org_id = caller.org_id();
  r.title = thread.title;
  r.body = thread.body;
  r.tags = thread.tags;
  r.exclude_thread_id = thread.id;
  r.limit = limit;
  return index_.Similar(r);
}

Result<Written<core::Suggestion>> SearchService::ResolveSuggestion(const Caller& caller,
                                                                   const std::string& suggestion_id,
                                                                   const std::string& thread_id) {
  auto s = store_.GetSuggestion(caller.org_id(), suggestion_id);
  if (!s) return s.take_error();
  if (s->user_id != caller.user.id) return Error::Make(ErrorCode::kNotFound, "suggestion not found");
  if (std::find(s->thread_ids.begin(), s->thread_ids.end(), thread_id) == s->thread_ids.end()) {
    Error e = Error::Make(ErrorCode::kInvalidArgument, "thread_id was not among this suggestion's threads");
    e.fields.push_back({"#/thread_id", e.detail});
    return e;
  }
  if (s->resolved_thread_id) return Written<core::Suggestion>{std::move(s).value(), store_.VisibleHead()};
  s->resolved_thread_id = thread_id;
  storage::Mutation m;
  m.PutSuggestion(*s);
  m.AddToCounter(caller.org_id(), "deflections", 1);
  // Attributed to the day the suggestion was shown, so per-tag rates compare like with like.
  for (const auto& t : s->tags) {
    m.AddToCounter(caller.org_id(), "deflected_tag/" + insights::DayOf(s->created_at) + "/" + t, 1);
  }
  core::Event e;
  e.type = core::EventType::kSuggestionResolved;
  e.org_id = caller.org_id();
  e.thread_id = thread_id;
  e.actor_id = caller.user.id;
  e.at = clock_.Now();
  m.AddEvent(e);
  auto seq = store_.Commit(std::move(m));
  if (!seq) return seq.take_error();
  return Written<core::Suggestion>{std::move(s).value(), *seq};
}

}  // namespace streetwise::service
