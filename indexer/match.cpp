#include "indexer/match.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace streetwise::indexer::match {

namespace {

void Count(std::map<std::string, std::uint64_t>& counts, const std::string& value) {
  if (!value.empty()) ++counts[value];
}

void AddCounts(FacetCounts& into, const FacetCounts& from) {
  for (const auto& [facet, counts] : from) {
    auto& target = into[facet];
    for (const auto& [value, n] : counts) target[value] += n;
  }
}

}  // namespace

bool FacetSpy::Take() {
  if (max_docs_ == 0) return true;
  if (shared_ != nullptr) {
    // Reading first keeps the exhausted case (most calls of a broad query) free of contended writes.
    if (shared_->load(std::memory_order_relaxed) >= max_docs_) return false;
    return shared_->fetch_add(1, std::memory_order_relaxed) < max_docs_;
  }
  if (seen_ == max_docs_) return false;
  ++seen_;
  return true;
}

void FacetSpy::operator()(const Xapian::Document& doc, double) {
  if (!Take()) return;
  if (!mapping::DecodeFacets(doc.get_value(mapping::kSlotFacets), values_)) return;
  Count(kind_, values_.kind);
  Count(status_, values_.status);
  Count(region_, values_.region);
  Count(product_, values_.product);
  for (const auto& tag : values_.tags) Count(tag_, tag);
}

void FacetSpy::TakeInto(FacetCounts& out) {
  for (auto [name, counts] : {std::pair{"kind", &kind_}, {"status", &status_}, {"region", &region_},
                              {"product", &product_}, {"tag", &tag_}}) {
    if (counts->empty()) continue;
    auto& target = out[name];
    for (const auto& [value, n] : *counts) target[value] += n;
    counts->clear();
  }
}

DocidRange::DocidRange(Xapian::docid first, Xapian::docid last) : first_(std::max<Xapian::docid>(first, 1)), last_(last) {}

void DocidRange::init(const Xapian::Database& db) {
  current_ = 0;
  docs_ = db.get_doccount();
}

void DocidRange::next(double) { current_ = current_ == 0 ? first_ : current_ + 1; }

void DocidRange::skip_to(Xapian::docid did, double) {
  if (current_ == 0) current_ = first_;
  current_ = std::max<std::uint64_t>(current_, did);
}

std::string DocidRange::get_description() const { return fmt::format("DocidRange({}, {})", first_, last_); }

std::vector<std::pair<Xapian::docid, Xapian::docid>> SplitDocids(Xapian::docid last_docid, std::size_t parts) {
  std::vector<std::pair<Xapian::docid, Xapian::docid>> out;
  parts = std::max<std::size_t>(1, std::min<std::size_t>(parts, last_docid));
  Xapian::docid first = 1;
  for (std::size_t i = 1; i <= parts; ++i) {
    auto last = static_cast<Xapian::docid>(static_cast<std::uint64_t>(last_docid) * i / parts);
    if (last >= first) out.emplace_back(first, last);
    first = last + 1;
  }
  return out;
}

PartResult MatchPart(const Xapian::Database& db, const Xapian::Query& query, Xapian::docid first, Xapian::docid last,
                     Xapian::doccount count, Xapian::doccount check_at_least, Xapian::MSet* mset,
                     std::atomic<std::uint64_t>* facet_budget) {
  Xapian::Enquire enquire(db);
  // The range source is an OP_FILTER operand: boolean, it only restricts the documents. Ownership
  // passes to the query (release()), which may outlive this frame inside an MSet.
  enquire.set_query(Xapian::Query(Xapian::Query::OP_FILTER, query, Xapian::Query((new DocidRange(first, last))->release())));
  enquire.set_weighting_scheme(*mapping::MakeWeight());
  FacetSpy spy(check_at_least, facet_budget);
  enquire.add_matchspy(&spy);
  Xapian::MSet m = enquire.get_mset(0, count, check_at_least);
  enquire.clear_matchspies();
  PartResult out;
  out.estimated = m.get_matches_estimated();
  if (m.get_matches_lower_bound() != m.get_matches_upper_bound()) {
    // An estimate from posting-list statistics, where the range counted as the whole database
    // (DocidRange): scale it to the range's share of the docids (deleted documents are assumed to
    // be spread evenly), within the bounds the matcher saw.
    Xapian::docid last_docid = db.get_lastdocid();
    double span = static_cast<double>(last) - static_cast<double>(first) + 1.0;
    double share = last_docid == 0 ? 0.0 : std::clamp(span / last_docid, 0.0, 1.0);
    auto scaled = static_cast<Xapian::doccount>(static_cast<double>(out.estimated) * share + 0.5);
    out.estimated = std::clamp(scaled, m.get_matches_lower_bound(), m.get_matches_upper_bound());
  }
  out.hits.reserve(m.size());
  for (auto it = m.begin(); it != m.end(); ++it) out.hits.push_back({it.get_weight(), *it});
  out.top_weight = m.get_max_attained();
  spy.TakeInto(out.facets);
  out.done = true;
  if (mset != nullptr) *mset = std::move(m);
  return out;
}

int RelativeScore(double weight, double best) {
  if (weight <= 0 || best <= 0) return 0;
  auto score = static_cast<int>(std::floor(100.0 * weight / best + 1e-9));
  return std::clamp(score, 1, 100);
}

Merged Merge(std::vector<PartResult>& parts, std::size_t offset, std::size_t count) {
  Merged out;
  std::vector<Hit> all;
  double top_weight = 0;
  for (auto& p : parts) {
    out.estimated += p.estimated;
    AddCounts(out.facets, p.facets);
    all.insert(all.end(), p.hits.begin(), p.hits.end());
    top_weight = std::max(top_weight, p.top_weight);
  }
  std::sort(all.begin(), all.end(), [](const Hit& a, const Hit& b) {
    if (a.weight != b.weight) return a.weight > b.weight;
    return a.docid < b.docid;
  });
  for (std::size_t i = offset; i < all.size() && out.hits.size() < count; ++i) {
    out.hits.push_back({all[i], RelativeScore(all[i].weight, top_weight)});
  }
  return out;
}

}  // namespace streetwise::indexer::match
