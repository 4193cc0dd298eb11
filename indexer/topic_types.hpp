// Recurring topics and trending terms over the search index: plain request/result types, no Xapian,
// so service/ and api/ can use them. How they are formed: docs/insights.md ("Topics").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"

namespace streetwise::indexer {

struct TopicsRequest {
  std::string org_id;               // mandatory: applied by the engine as a boolean filter
  std::optional<std::string> kind;  // "question", "feature_request", ...; nullopt: every kind
  core::TimePoint from, to;         // created_at range, inclusive; from <= to
  std::size_t limit = 10;           // topics returned, most threads first
};

struct Topic {
  std::string label;                // the topic's most significant words, joined by ", "
  std::vector<std::string> terms;   // those words, most significant first
  std::uint64_t thread_count = 0;   // threads created in [from, to] that match the topic
  std::uint64_t account_count = 0;  // distinct deal accounts among them (case-insensitive)
  std::uint64_t previous_thread_count = 0;  // the same in the period of equal length before `from`
  std::optional<double> growth;     // (thread_count - previous) / previous; nullopt when previous is 0
  std::vector<std::string> example_thread_ids;  // the best-matching threads of the period, best first
};

struct TopicsResponse {
  core::TimePoint previous_from, previous_to;  // the period of equal length just before `from`
  std::vector<Topic> topics;
  std::uint64_t threads_in_period = 0;  // threads of the org (and kind) created in [from, to]
  std::uint64_t sampled_threads = 0;    // the newest of them, which were grouped
};

struct TrendingRequest {
  std::string org_id;
  core::TimePoint from, to;  // created_at range, inclusive; from <= to
  std::size_t limit = 10;
};

struct TrendingItem {
  enum class Type { kTerm, kTag };
  Type type = Type::kTerm;
  std::string value;                 // the word (lower case) or the normalised tag
  std::uint64_t count = 0;           // threads created in [from, to] containing it
  std::uint64_t previous_count = 0;  // the same in the period of equal length before `from`
  std::optional<double> growth;      // (count - previous) / previous; nullopt when previous is 0
};

struct TrendingResponse {
  core::TimePoint previous_from, previous_to;  // the period of equal length just before `from`
  std::vector<TrendingItem> items;  // strongest growth first
  std::uint64_t threads_in_period = 0;
  std::uint64_t previous_threads = 0;
  std::uint64_t sampled_threads = 0;  // the newest threads whose words were candidates
};

}  // namespace streetwise::indexer
