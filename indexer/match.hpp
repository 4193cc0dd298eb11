// Internal to indexer/: the matching step of a search, whole or split into parts by docid so that
// the parts run on several cores at once (docs/search.md, "Parallel matching").
//
// A part is the same org-restricted query filtered to a contiguous docid range. BM25 weights come
// from whole-database statistics, not from the documents a query visits, so a document gets the
// same weight in its part as in a whole search, and merging the parts' best hits (weight, then
// docid, as Xapian orders equal weights) gives exactly the whole search's ranking.
#pragma once

#include <xapian.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "indexer/xapian_mapping.hpp"

namespace streetwise::indexer::match {

using FacetCounts = std::map<std::string, std::map<std::string, std::uint64_t>>;

// Counts facet values over the documents the matcher examines. One value read per document
// (kSlotFacets): reading five slots per document alternated between five B-tree ranges and cost
// ~2.7 ms per query at 1M threads against ~0.3 ms for one (docs/benchmarks.md).
class FacetSpy : public Xapian::MatchSpy {
 public:
  // Counts the first `max_docs` documents it is shown (0: every one). With `shared`, the spies of
  // all parts of one search draw from one budget of `max_docs` documents (`shared` counts the
  // documents taken, starts at 0 and outlives the spies).
  explicit FacetSpy(std::uint64_t max_docs = 0, std::atomic<std::uint64_t>* shared = nullptr)
      : max_docs_(max_docs), shared_(shared) {}
  void operator()(const Xapian::Document& doc, double) override;
  // Adds this spy's counts to `out` and clears them.
  void TakeInto(FacetCounts& out);

 private:
  bool Take();

  std::uint64_t max_docs_;
  std::atomic<std::uint64_t>* shared_;
  std::uint64_t seen_ = 0;
  mapping::FacetValues values_;  // reused between documents
  std::map<std::string, std::uint64_t> kind_, status_, region_, product_, tag_;
};

// The documents whose docid lies in [first, last], as a boolean filter (no weight). It also yields
// docids of deleted documents, which is only right as an OP_FILTER operand (the other operand has
// no such docids), and assumes a single database (docids are not interleaved across shards).
//
// Its frequency estimate is the whole database's, not the range's: Xapian's AND steps through
// its operand with the lowest estimate and skips the others along, and a range that led would make
// the query's own posting list skip (slower than stepping) to every docid of the range. The AND's
// estimate is then the query's over the whole database; MatchPart scales it back to the range.
class DocidRange : public Xapian::PostingSource {
 public:
  DocidRange(Xapian::docid first, Xapian::docid last);
  void init(const Xapian::Database& db) override;
  Xapian::doccount get_termfreq_min() const override { return 0; }
  Xapian::doccount get_termfreq_est() const override { return docs_; }
  Xapian::doccount get_termfreq_max() const override { return docs_; }
  Xapian::docid get_docid() const override { return static_cast<Xapian::docid>(current_); }
  void next(double min_wt) override;
  void skip_to(Xapian::docid did, double min_wt) override;
  bool at_end() const override { return current_ > last_; }
  PostingSource* clone() const override { return new DocidRange(first_, last_); }
  std::string get_description() const override;

 private:
  Xapian::docid first_, last_;
  std::uint64_t current_ = 0;  // 0: before the first; wider than a docid, so last_ + 1 cannot wrap
  Xapian::doccount docs_ = 0;  // the database's document count (see the class comment)
};

// `parts` contiguous docid ranges covering 1..last_docid (fewer if there are fewer docids).
std::vector<std::pair<Xapian::docid, Xapian::docid>> SplitDocids(Xapian::docid last_docid, std::size_t parts);

struct Hit {
  double weight = 0;
  Xapian::docid docid = 0;
};

// What one part found: its best hits and what the merge needs besides.
struct PartResult {
  bool done = false;
  std::vector<Hit> hits;  // best first
  Xapian::doccount estimated = 0;
  double top_weight = 0;  // the highest weight the part saw (0 if none)
  FacetCounts facets;
};

// Runs `query` (already restricted to the organisation; relevance order) over the documents of
// [first, last], keeping the best `count` hits and checking at least `check_at_least` matches.
// Facets are counted over the first `check_at_least` matches the part examines or, with
// `facet_budget`, over as many as remain of a budget of `check_at_least` shared by every part of
// the search: all of a search's matches when it has at most that many in all, a sample of that
// size otherwise, however the matches fall into the parts. `mset` (nullable) receives the part's
// MSet, e.g. for snippets.
PartResult MatchPart(const Xapian::Database& db, const Xapian::Query& query, Xapian::docid first, Xapian::docid last,
                     Xapian::doccount count, Xapian::doccount check_at_least, Xapian::MSet* mset = nullptr,
                     std::atomic<std::uint64_t>* facet_budget = nullptr);

// A hit's score: its weight in percent of the best hit's (the best hit of the whole ranking scores
// 100), at least 1 for a positive weight; 0 when nothing is weighted (pure filters).
int RelativeScore(double weight, double best);

struct MergedHit {
  Hit hit;
  int score = 0;  // RelativeScore against the best hit of all parts
};

struct Merged {
  std::vector<MergedHit> hits;  // [offset, offset + count) of the merged ranking
  Xapian::doccount estimated = 0;
  FacetCounts facets;
};

// Merges the parts (each done) into one ranking: weight descending, then docid ascending.
Merged Merge(std::vector<PartResult>& parts, std::size_t offset, std::size_t count);

}  // namespace streetwise::indexer::match
