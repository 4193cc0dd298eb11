// Search requests and results: plain types, no Xapian, so api/ and tests can use them freely.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"

namespace streetwise::indexer {

enum class SortOrder { kRelevance, kNewest, kVotes };

struct SearchRequest {
  std::string org_id;  // mandatory: applied by the engine as a boolean filter
  std::string q;       // user query text; empty lists every thread matching the filters
  std::vector<std::string> tags;  // normalised; all must match
  std::optional<std::string> kind, status, author_id, account, region, product;
  std::optional<core::TimePoint> from, to;  // created_at range, inclusive
  SortOrder sort = SortOrder::kRelevance;
  std::size_t offset = 0;
  std::size_t limit = 20;
};

struct SearchHit {
  std::string thread_id;
  std::string title;
  std::string snippet;  // HTML-escaped text with matches in <mark>...</mark>
  std::vector<std::string> tags;
  std::string kind;
  std::string status;
  std::int64_t answer_count = 0;
  bool accepted = false;
  std::int64_t score = 0;  // 0..100, relative to the best match
  core::TimePoint created_at;
};

struct SearchResponse {
  std::uint64_t estimated_total = 0;
  std::vector<SearchHit> results;
  // facet name -> value -> count over the matching threads (counted over at least the first 200
  // matches; exact below that).
  std::map<std::string, std::map<std::string, std::uint64_t>> facets;
  std::optional<std::string> did_you_mean;  // only when nothing was found
  bool has_more = false;
};

struct SimilarRequest {
  std::string org_id;
  std::string title;
  std::string body;
  std::vector<std::string> tags;
  std::optional<std::string> exclude_thread_id;
  std::size_t limit = 5;
};

}  // namespace streetwise::indexer
