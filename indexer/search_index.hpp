// The Xapian search index of every organisation's threads, kept in step with the RocksDB change
// log, and the searcher over it.
//
// One writer thread tails Store::ReadChangeLog from the position stored in the index's metadata
// ("applied_seq", set in the same commit as the documents), so after any crash the index resumes
// exactly where its last commit ended: no gaps, and re-applying an event is idempotent because
// documents are replaced by their unique term. Commits happen at most every `commit_interval`.
//
// The index lives in DATA/index/<generation>/; DATA/index/CURRENT names the live generation.
// Rebuild() writes a new generation from RocksDB while searches keep using the old one, then swaps
// CURRENT atomically (rename) and the tailer continues from the rebuild's position.
//
// Thread-safety: all public methods are thread-safe. Search/Similar are blocking CPU work: call
// them from the blocking pool. Xapian stays inside indexer/ (only .cpp files include it).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>

#include "core/error.hpp"
#include "indexer/search_types.hpp"
#include "indexer/topic_types.hpp"

namespace streetwise::storage {
class Store;
}

namespace streetwise::indexer {

struct IndexOptions {
  std::chrono::milliseconds commit_interval{250};  // default 250 ms: a write is searchable within ~0.3 s
  std::size_t batch_events = 2000;                 // events read from the log per step
  std::size_t rebuild_writers = 2;                 // default 2 (one per core): threads writing a rebuild's
                                                   // parts, merged by Xapian compaction; 1 = write directly
  std::size_t rebuild_flush_docs = 1000;           // default 1000: documents per flush while rebuilding
  std::uint64_t rebuild_part_docs = 100000;        // default 100,000: documents per part database
                                                   // (with rebuild_writers > 1)
  std::size_t search_threads = 2;                  // default 2 (one per core): threads matching one search
                                                   // together, over 2 docid ranges each; 1 = not split
  std::uint64_t search_split_min_docs = 20000;     // default 20,000: smaller indexes are searched whole
};

// Reports rebuild progress: threads done, threads total (estimate).
using ProgressFn = std::function<void(std::uint64_t done, std::uint64_t total)>;

class SearchIndex {
 public:
  // Opens DATA/index (creating it if missing). A missing, unreadable or inconsistent index (e.g.
  // positioned beyond the change log) is rebuilt from `store` before this returns.
  // `store` must outlive the index.
  static core::Result<std::unique_ptr<SearchIndex>> Open(const std::filesystem::path& index_dir,
                                                         storage::Store& store, const IndexOptions& options);
  ~SearchIndex();

  // Starts / stops the tailing writer thread. Stop() commits what was applied.
  void Start();
  void Stop();

  // The highest change-log seq whose effects are searchable.
  std::uint64_t AppliedSeq() const;
  // Blocks until AppliedSeq() >= seq or the timeout passes; returns whether it got there.
  bool WaitForSeq(std::uint64_t seq, std::chrono::milliseconds timeout) const;

  core::Result<SearchResponse> Search(const SearchRequest& request) const;
  // Searches so far whose matching was split into docid ranges (docs/search.md, "Parallel matching").
  std::uint64_t SplitSearchCount() const;
  core::Result<std::vector<SearchHit>> Similar(const SimilarRequest& request) const;

  // Recurring topics and trending words/tags of one organisation (indexer/topics.hpp; method in
  // docs/insights.md). Blocking CPU work bounded by sampling, not by the size of the period.
  // Precondition: from <= to. No permission check: the caller (service/) does it.
  core::Result<TopicsResponse> Topics(const TopicsRequest& request) const;
  core::Result<TrendingResponse> Trending(const TrendingRequest& request) const;

  // Rebuilds the index from RocksDB into a new generation and swaps it in. Searches keep
  // answering from the old generation meanwhile. Returns the number of threads indexed.
  core::Result<std::uint64_t> Rebuild(const ProgressFn& progress);

 private:
  struct Impl;
  explicit SearchIndex(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace streetwise::indexer
