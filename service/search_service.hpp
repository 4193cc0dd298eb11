// Search, similar-thread suggestions and deflection tracking over the Xapian index.
//
// Blocking (Xapian CPU work, RocksDB writes): call from the blocking pool. Thread-safe.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/model.hpp"
#include "indexer/search_index.hpp"
#include "service/account_service.hpp"
#include "storage/store.hpp"

namespace streetwise::service {

struct SimilarResult {
  core::Suggestion suggestion;  // its id is what the client reports back on deflection
  std::vector<indexer::SearchHit> hits;
};

class SearchService {
 public:
  // All references must outlive the service.
  SearchService(storage::Store& store, indexer::SearchIndex& index, const core::Clock& clock)
      : store_(store), index_(index), clock_(clock) {}

  // Runs a search restricted to the caller's organisation. With `after_seq`, first waits (at most
  // `wait`) until the index has applied that change-log seq (read-your-writes). A search with text
  // that finds nothing is counted per term and per tag filter (for the insights gaps report).
  core::Result<indexer::SearchResponse> Search(const Caller& caller, indexer::SearchRequest request,
                                               std::optional<std::uint64_t> after_seq,
                                               std::chrono::milliseconds wait);

  // Top matches for a draft question; records a suggestion for deflection tracking.
  core::Result<SimilarResult> Similar(const Caller& caller, indexer::SimilarRequest request);

  // Top matches without recording a suggestion (used in the POST /v1/threads response).
  core::Result<std::vector<indexer::SearchHit>> SimilarTo(const Caller& caller, const core::Thread& thread,
                                                          std::size_t limit);

  // Recurring topics and trending words/tags of the caller's organisation (indexer/topics.hpp,
  // docs/insights.md). kForbidden unless the caller may read insights (admins, analysts). The org
  // is the caller's, never the client's. With `after_seq`, first waits (at most `wait`) until the
  // index has applied that change-log seq. Precondition: from <= to.
  core::Result<indexer::TopicsResponse> Topics(const Caller& caller, indexer::TopicsRequest request,
                                               std::optional<std::uint64_t> after_seq, std::chrono::milliseconds wait);
  core::Result<indexer::TrendingResponse> Trending(const Caller& caller, indexer::TrendingRequest request,
                                                   std::optional<std::uint64_t> after_seq,
                                                   std::chrono::milliseconds wait);

  // The caller reports that suggested thread `thread_id` answered them. kNotFound for another
  // user's or org's suggestion; kInvalidArgument if the thread was not among the suggestions.
  core::Result<Written<core::Suggestion>> ResolveSuggestion(const Caller& caller, const std::string& suggestion_id,
                                                            const std::string& thread_id);

 private:
  storage::Store& store_;
  indexer::SearchIndex& index_;
  const core::Clock& clock_;
};

}  // namespace streetwise::service
