#include "indexer/topics.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <memory>
#include <set>
#include <unordered_set>

#include "indexer/xapian_mapping.hpp"

namespace streetwise::indexer::topics {
namespace {

// ---- Bounds and thresholds (docs/insights.md, "Topics"). ----
// The work per request is bounded by samples, not by the size of the period: at most kTopicSample
// threads are grouped, with one similar-thread query each, on a small in-memory copy.
constexpr Xapian::doccount kTopicSample = 400;  // newest threads of the period that are grouped
// Word statistics come from at least this many of the org's threads: the sample, topped up with
// other threads of the org (which are never grouped) when the period holds fewer.
constexpr Xapian::doccount kStatsThreads = 400;
constexpr Xapian::termcount kGroupTerms = 12;   // expand terms offered to a similarity query
constexpr Xapian::termcount kEliteTerms = 8;    // of which OP_ELITE_SET keeps the most significant
// Each sampled thread's nearest sampled threads (by the similar-thread search) that it may link to;
// a link needs each thread among the other's nearest. Mutual nearest neighbours keep a thread that
// resembles many (boilerplate) from chaining unrelated groups together.
constexpr std::size_t kMaxNeighbours = 3;
// Two threads are linked when one scores at least kJoin of the other's own weight for the other's
// similarity query, and the other at least kJoinBack in return.
// Counting over a whole period keeps the threads scoring at least kJoin of the best match for the
// topic's query, lowered to the group's weakest sampled thread if need be, never below kJoinBack.
constexpr double kJoin = 0.4;
constexpr double kJoinBack = 0.25;
constexpr std::size_t kMaxRset = 20;    // relevance-set documents per topic
constexpr std::size_t kMinGroup = 2;    // a topic recurs: at least two threads in the sample
constexpr std::size_t kLabelTerms = 3;  // words in a label
constexpr std::size_t kExamples = 3;    // example thread ids per topic

constexpr Xapian::doccount kTrendSample = 500;  // newest threads of each period that offer candidates
constexpr std::size_t kTrendTerms = 30;         // candidate words
constexpr std::size_t kTrendTags = 30;          // candidate tags (most frequent in the sample)
constexpr std::uint64_t kMinTrendCount = 2;     // a trend needs at least two threads in the period

struct Period {
  std::int64_t from_ms;
  std::int64_t to_ms;
};

// The period of equal length that ends just before `p` starts.
Period Before(const Period& p) {
  std::int64_t length = p.to_ms - p.from_ms;
  return {p.from_ms - 1 - length, p.from_ms - 1};
}

std::optional<double> Growth(std::uint64_t now, std::uint64_t before) {
  if (before == 0) return std::nullopt;
  return (static_cast<double>(now) - static_cast<double>(before)) / static_cast<double>(before);
}

// The kind and period filters (no weight).
Xapian::Query Filters(const std::optional<std::string>& kind, const Period& p) {
  Xapian::Query filters = mapping::CreatedBetween(p.from_ms, p.to_ms);
  if (!kind) return filters;
  return Xapian::Query(Xapian::Query::OP_FILTER, filters, Xapian::Query(mapping::KindTerm(*kind)));
}

// `weighted` (empty: every thread) restricted to the org, the kind and the period. The org is a
// structural OP_FILTER (mapping::RestrictToOrg), never part of the weighted query.
Xapian::Query Restricted(const Xapian::Query& weighted, const std::string& org_id,
                         const std::optional<std::string>& kind, const Period& p) {
  Xapian::Query filters = Filters(kind, p);
  Xapian::Query q = weighted.empty() ? filters : Xapian::Query(Xapian::Query::OP_FILTER, weighted, filters);
  return mapping::RestrictToOrg(q, org_id);
}

// Exact number of documents matching a boolean query (check_at_least = every document).
std::uint64_t Count(const Xapian::Database& db, const Xapian::Query& q) {
  Xapian::Enquire e(db);
  e.set_weighting_scheme(Xapian::BoolWeight());
  e.set_query(q);
  return e.get_mset(0, 0, db.get_doccount()).get_matches_estimated();
}

struct Sample {
  std::vector<Xapian::docid> docids;  // newest first
  std::uint64_t total = 0;            // every match, exact
};

// The newest `n` documents matching boolean query `q` and the exact number of matches.
Sample Newest(const Xapian::Database& db, const Xapian::Query& q, Xapian::doccount n) {
  Xapian::Enquire e(db);
  e.set_weighting_scheme(Xapian::BoolWeight());
  e.set_query(q);
  e.set_sort_by_value(mapping::kSlotCreated, true);
  Xapian::MSet m = e.get_mset(0, n, db.get_doccount());
  Sample s;
  s.total = m.get_matches_estimated();
  for (auto it = m.begin(); it != m.end(); ++it) s.docids.push_back(*it);
  return s;
}

// Up to `n` documents matching `q`, in docid order: the matcher stops after `n`, so this is cheap
// whatever the number of matches.
std::vector<Xapian::docid> First(const Xapian::Database& db, const Xapian::Query& q, Xapian::doccount n) {
  Xapian::Enquire e(db);
  e.set_weighting_scheme(Xapian::BoolWeight());
  e.set_query(q);
  Xapian::MSet m = e.get_mset(0, n);
  return std::vector<Xapian::docid>(m.begin(), m.end());
}

std::string ThreadId(const Xapian::Database& db, Xapian::docid did) {
  auto it = db.termlist_begin(did);
  it.skip_to(mapping::kPrefixId);
  if (it == db.termlist_end(did) || (*it).rfind(mapping::kPrefixId, 0) != 0) return {};
  return (*it).substr(1);
}

// Words that read as words in a label or a trend: unstemmed, holding a letter; with `sample`, only
// words that at least two of its threads use.
class ReadableWords : public Xapian::ExpandDecider {
 public:
  explicit ReadableWords(const Xapian::Database* sample = nullptr, const std::set<std::string>* excluded = nullptr)
      : sample_(sample), excluded_(excluded) {}
  bool operator()(const std::string& term) const override {
    if (!mapping::IsWordTerm(term) || term[0] == 'Z') return false;
    if (std::none_of(term.begin(), term.end(), [](unsigned char c) { return std::isalpha(c) || c >= 0x80; })) {
      return false;
    }
    if (excluded_ != nullptr && excluded_->count(term)) return false;
    return sample_ == nullptr || sample_->get_termfreq(term) >= 2;
  }

 private:
  const Xapian::Database* sample_;           // non-owning, nullable; outlives the decider
  const std::set<std::string>* excluded_;  // non-owning, nullable; outlives the decider
};

// Words that can link threads: word stems (the 'Z' terms, so "export" also finds "exports", and no
// word takes two places in a query as word and stem) that at least two threads of the sample use. A
// word only one thread uses cannot bring anyone into its group, yet the expand set of a single
// document ranks such rare words first.
class SharedStems : public Xapian::ExpandDecider {
 public:
  explicit SharedStems(const Xapian::Database& sample) : sample_(sample) {}
  bool operator()(const std::string& term) const override {
    return term[0] == 'Z' && mapping::IsWordTerm(term) && sample_.get_termfreq(term) >= 2;
  }

 private:
  const Xapian::Database& sample_;
};

// Sampled threads' word terms (with their wdf) in a small in-memory database. Grouping runs
// one query per sampled thread, which must not touch the whole index; and statistics local to the
// organisation make its everyday words (customer, need, deal) weigh little while the words that set
// a request apart weigh much. Docids 1..grouped are the threads being grouped or counted; the
// documents after them are there for the statistics only.
struct SampleDb {
  Xapian::WritableDatabase db{std::string(), Xapian::DB_BACKEND_INMEMORY};
  std::vector<Xapian::docid> source;  // sample docid - 1 -> index docid
};

void CopyWords(const Xapian::Database& index, const std::vector<Xapian::docid>& docids, SampleDb& out) {
  for (Xapian::docid did : docids) {
    Xapian::Document copy;
    for (auto t = index.termlist_begin(did); t != index.termlist_end(did); ++t) {
      const std::string& term = *t;
      if (mapping::IsWordTerm(term)) copy.add_term(term, t.get_wdf());
    }
    out.db.add_document(copy);
    out.source.push_back(did);
  }
}

// The question of each thread - title (weighted as the index weights it), body and tag words, but
// not its answers and comments - tokenised as the index tokenises (search_index.cpp): threads are
// grouped by what they ask, not by what was answered ("not supported yet, on the roadmap").
void CopyQuestions(const Xapian::Database& index, const std::vector<Xapian::docid>& docids, SampleDb& out) {
  Xapian::TermGenerator tg;
  tg.set_stemmer(Xapian::Stem("english"));
  tg.set_stemming_strategy(Xapian::TermGenerator::STEM_SOME);
  for (Xapian::docid did : docids) {
    auto data = boost::json::parse(index.get_document(did).get_data()).as_object();
    std::string_view text = data.at("text").as_string();
    if (const auto* body_bytes = data.if_contains("body_bytes")) {
      text = text.substr(0, static_cast<std::size_t>(body_bytes->to_number<std::int64_t>()));
    }
    Xapian::Document question;
    tg.set_document(question);
    tg.index_text_without_positions(std::string(data.at("title").as_string()), 3);
    tg.index_text_without_positions(std::string(text));
    for (const auto& tag : data.at("tags").as_array()) tg.index_text_without_positions(std::string(tag.as_string()));
    Xapian::Document copy;
    for (auto t = question.termlist_begin(); t != question.termlist_end(); ++t) {
      if (mapping::IsWordTerm(*t)) copy.add_term(*t, t.get_wdf());
    }
    out.db.add_document(copy);
    out.source.push_back(did);
  }
}

Xapian::RSet MakeRset(const std::vector<Xapian::docid>& docids) {
  Xapian::RSet rset;
  for (std::size_t i = 0; i < docids.size() && i < kMaxRset; ++i) rset.add_document(docids[i]);
  return rset;
}

std::vector<std::string> ExpandTerms(const Xapian::Enquire& e, const Xapian::RSet& rset, Xapian::termcount n,
                                     const Xapian::ExpandDecider& decider) {
  // INCLUDE_QUERY_TERMS: the enquire's previous query must not hide the group's own words.
  Xapian::ESet es = e.get_eset(n, rset, Xapian::Enquire::INCLUDE_QUERY_TERMS, &decider);
  return std::vector<std::string>(es.begin(), es.end());
}

Xapian::Query EliteQuery(const std::vector<std::string>& terms) {
  return Xapian::Query(Xapian::Query::OP_ELITE_SET, terms.begin(), terms.end(), kEliteTerms);
}

// ---- Topics ----

struct Group {
  std::vector<Xapian::docid> members;  // sample docids, newest first
};

// The sampled documents being grouped (docids 1..grouped), not the background.
class GroupedOnly : public Xapian::MatchDecider {
 public:
  explicit GroupedOnly(Xapian::doccount grouped) : grouped_(grouped) {}
  bool operator()(const Xapian::Document& doc) const override { return doc.get_docid() <= grouped_; }

 private:
  Xapian::doccount grouped_;
};

// Groups sampled threads 1..grouped by mutual similarity. Each is run through the similar-thread
// search (the expand set of an RSet holding only that thread, restricted to words other threads
// share, as an OP_ELITE_SET query with the thread as relevance feedback); its kMaxNeighbours best
// matches get the ratio of their weight to the thread's own. Two threads are linked when each is
// among the other's neighbours, with a ratio of at least kJoin one way and kJoinBack the other; a
// group is a connected set of links. So a request sharing "SAML, identity provider" with a second
// that shares "Okta single sign-on" with a third joins both, while a thread that matches others
// only through everyday words is nobody's neighbour in return and stays alone.
std::vector<Group> Cluster(const SampleDb& sample, Xapian::doccount grouped) {
  Xapian::Enquire e(sample.db);
  e.set_weighting_scheme(*mapping::MakeWeight());
  SharedStems words(sample.db);
  GroupedOnly sampled(grouped);
  std::vector<std::map<Xapian::docid, double>> neighbours(grouped + 1);  // neighbour -> weight ratio
  for (Xapian::docid d = 1; d <= grouped; ++d) {
    Xapian::RSet rset;
    rset.add_document(d);
    auto terms = ExpandTerms(e, rset, kGroupTerms, words);
    if (terms.empty()) continue;
    e.set_query(EliteQuery(terms));
    Xapian::MSet m = e.get_mset(0, static_cast<Xapian::doccount>(kMaxNeighbours + 1), 0, &rset, &sampled);
    double self = m.get_max_attained();
    for (auto it = m.begin(); it != m.end(); ++it) {
      if (*it == d) self = it.get_weight();
    }
    for (auto it = m.begin(); it != m.end() && it.get_weight() >= kJoinBack * self; ++it) {
      if (*it != d) neighbours[d][*it] = it.get_weight() / self;
    }
  }
  // Connected components of the links (union-find with path halving).
  std::vector<Xapian::docid> parent(grouped + 1);
  for (Xapian::docid d = 0; d <= grouped; ++d) parent[d] = d;
  auto root = [&](Xapian::docid d) {
    while (parent[d] != d) d = parent[d] = parent[parent[d]];
    return d;
  };
  for (Xapian::docid d = 1; d <= grouped; ++d) {
    for (auto [other, ratio] : neighbours[d]) {
      if (other < d) continue;
      auto back = neighbours[other].find(d);
      if (back == neighbours[other].end()) continue;
      if (std::max(ratio, back->second) >= kJoin) parent[root(other)] = root(d);
    }
  }
  std::map<Xapian::docid, Group> by_root;
  for (Xapian::docid d = 1; d <= grouped; ++d) by_root[root(d)].members.push_back(d);
  std::vector<Group> groups;
  for (auto& [r, g] : by_root) {
    if (g.members.size() < kMinGroup) continue;
    groups.push_back(std::move(g));
  }
  return groups;
}

// Counts, over one period, the threads whose weight reaches the topic's threshold and their
// distinct accounts.
class TopicSpy : public Xapian::MatchSpy {
 public:
  explicit TopicSpy(double threshold) : threshold_(threshold) {}
  void operator()(const Xapian::Document& doc, double wt) override {
    if (wt < threshold_) return;
    ++threads;
    std::string account = doc.get_value(mapping::kSlotAccount);
    if (!account.empty()) accounts.insert(std::move(account));
  }
  std::uint64_t threads = 0;
  std::unordered_set<std::string> accounts;

 private:
  double threshold_;
};

// Label words: the group's expand set read as words, one word per stem ("export", not also
// "exports").
std::vector<std::string> Label(const Xapian::Database& sample, const Xapian::Enquire& e, const Xapian::RSet& rset) {
  ReadableWords decider(&sample);
  Xapian::Stem stem("english");
  std::vector<std::string> out;
  std::set<std::string> stems;
  for (const auto& term : ExpandTerms(e, rset, kLabelTerms * 4, decider)) {
    if (!stems.insert(stem(term)).second) continue;
    out.push_back(term);
    if (out.size() == kLabelTerms) break;
  }
  return out;
}

// The group's topic: its label and query come from the sample; its figures from the whole index.
// nullopt if the group has no shared words (cannot happen for linked threads; checked anyway, as an
// empty query would count every thread of the period).
std::optional<Topic> Finish(const Xapian::Database& db, const TopicsRequest& r, const Period& period,
                            const SampleDb& sample, const Group& g) {
  Xapian::Enquire sample_enquire(sample.db);
  Xapian::RSet sample_rset = MakeRset(g.members);
  SharedStems words(sample.db);
  auto terms = ExpandTerms(sample_enquire, sample_rset, kGroupTerms, words);
  if (terms.empty()) return std::nullopt;
  Xapian::Query q = EliteQuery(terms);
  Topic topic;
  topic.terms = Label(sample.db, sample_enquire, sample_rset);
  for (const auto& t : topic.terms) topic.label += (topic.label.empty() ? "" : ", ") + t;

  // The same query over the index, restricted to the period, with the group's threads as relevance
  // feedback. Weights depend on the query, the relevance set and the index, not on the filter, so
  // one threshold serves both periods.
  std::vector<Xapian::docid> members;
  std::vector<Xapian::Query> member_ids;
  for (auto m : g.members) {
    members.push_back(sample.source[m - 1]);
    member_ids.emplace_back(mapping::IdTerm(ThreadId(db, sample.source[m - 1])));
  }
  Xapian::RSet rset = MakeRset(members);
  Xapian::Enquire e(db);
  e.set_weighting_scheme(*mapping::MakeWeight());
  e.set_query(Restricted(q, r.org_id, r.kind, period));
  double best = e.get_mset(0, 1, 0, &rset).get_max_attained();
  double weakest = best;
  {
    Xapian::Enquire me(db);
    me.set_weighting_scheme(*mapping::MakeWeight());
    me.set_query(Xapian::Query(Xapian::Query::OP_FILTER, q,
                               Xapian::Query(Xapian::Query::OP_OR, member_ids.begin(), member_ids.end())));
    Xapian::MSet ms = me.get_mset(0, static_cast<Xapian::doccount>(member_ids.size()), 0, &rset);
    for (auto it = ms.begin(); it != ms.end(); ++it) weakest = std::min(weakest, it.get_weight());
  }
  double threshold = std::max(kJoinBack * best, std::min(kJoin * best, weakest));
  e.set_cutoff(0, threshold);

  // check_at_least = every document: the spy sees every thread above the cutoff.
  TopicSpy now(threshold);
  e.add_matchspy(&now);
  Xapian::MSet top = e.get_mset(0, kExamples, db.get_doccount(), &rset);
  e.clear_matchspies();
  for (auto it = top.begin(); it != top.end(); ++it) topic.example_thread_ids.push_back(ThreadId(db, *it));
  topic.thread_count = now.threads;
  topic.account_count = now.accounts.size();

  TopicSpy before(threshold);
  e.add_matchspy(&before);
  e.set_query(Restricted(q, r.org_id, r.kind, Before(period)));
  (void)e.get_mset(0, 1, db.get_doccount(), &rset);  // only the spy's counts are used (maxitems 0 skips spies)
  e.clear_matchspies();
  topic.previous_thread_count = before.threads;
  topic.growth = Growth(topic.thread_count, topic.previous_thread_count);
  return topic;
}

// ---- Trending ----

double TrendScore(const TrendingItem& i) {
  // The difference of the two counts in units of its standard deviation (two Poisson counts):
  // 1 -> 5 outranks 800 -> 850, and one new thread does not outrank a steady rise.
  auto c = static_cast<double>(i.count);
  auto p = static_cast<double>(i.previous_count);
  return (c - p) / std::sqrt(c + p);
}

// Up to `n` readable words of the sample database, those most of its threads use first.
std::vector<std::string> MostFrequent(const Xapian::Database& sample, std::size_t n, const ReadableWords& readable) {
  std::vector<std::pair<Xapian::doccount, std::string>> by_freq;
  for (auto t = sample.allterms_begin(); t != sample.allterms_end(); ++t) {
    if (readable(*t)) by_freq.emplace_back(t.get_termfreq(), *t);
  }
  std::stable_sort(by_freq.begin(), by_freq.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<std::string> out;
  for (std::size_t i = 0; i < by_freq.size() && i < n; ++i) out.push_back(by_freq[i].second);
  return out;
}

}  // namespace

TopicsResponse FindTopics(const Xapian::Database& db, const TopicsRequest& r) {
  Period period{core::ToUnixMillis(r.from), core::ToUnixMillis(r.to)};
  TopicsResponse out;
  out.previous_from = core::FromUnixMillis(Before(period).from_ms);
  out.previous_to = core::FromUnixMillis(Before(period).to_ms);
  Sample s = Newest(db, Restricted(Xapian::Query(), r.org_id, r.kind, period), kTopicSample);
  out.threads_in_period = s.total;
  out.sampled_threads = s.docids.size();
  if (s.docids.size() < kMinGroup || r.limit == 0) return out;

  SampleDb sample;
  CopyQuestions(db, s.docids, sample);
  // Background: other threads of the same org, so that in a small period a word every sampled
  // thread shares still counts as rare when the org rarely uses it elsewhere.
  if (s.docids.size() < kStatsThreads) {
    Xapian::Query others(Xapian::Query::OP_AND_NOT, mapping::MatchAll(), Filters(r.kind, period));
    auto n = static_cast<Xapian::doccount>(kStatsThreads - s.docids.size());
    CopyQuestions(db, First(db, mapping::RestrictToOrg(others, r.org_id), n), sample);
  }

  auto grouped = static_cast<Xapian::doccount>(s.docids.size());
  std::vector<Group> groups = Cluster(sample, grouped);
  // The `limit` largest groups of the sample (the newest threads stand for the period), among
  // equals those with more distinct accounts; only they are counted over the whole period, which
  // is the costly part. Returned in the order of their period counts.
  std::vector<std::pair<std::size_t, const Group*>> ranked;
  for (const auto& g : groups) {
    std::set<std::string> accounts;
    for (auto m : g.members) accounts.insert(db.get_document(sample.source[m - 1]).get_value(mapping::kSlotAccount));
    ranked.emplace_back(accounts.size(), &g);
  }
  std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    if (a.second->members.size() != b.second->members.size()) return a.second->members.size() > b.second->members.size();
    return a.first > b.first;
  });
  if (ranked.size() > r.limit) ranked.resize(r.limit);
  for (const auto& [accounts, g] : ranked) {
    if (auto topic = Finish(db, r, period, sample, *g)) out.topics.push_back(std::move(*topic));
  }
  std::stable_sort(out.topics.begin(), out.topics.end(), [](const Topic& a, const Topic& b) {
    if (a.thread_count != b.thread_count) return a.thread_count > b.thread_count;
    return a.account_count > b.account_count;
  });
  return out;
}

TrendingResponse FindTrending(const Xapian::Database& db, const TrendingRequest& r) {
  Period period{core::ToUnixMillis(r.from), core::ToUnixMillis(r.to)};
  Period before = Before(period);
  TrendingResponse out;
  out.previous_from = core::FromUnixMillis(before.from_ms);
  out.previous_to = core::FromUnixMillis(before.to_ms);
  Sample now = Newest(db, Restricted(Xapian::Query(), r.org_id, std::nullopt, period), kTrendSample);
  Sample then = Newest(db, Restricted(Xapian::Query(), r.org_id, std::nullopt, before), kTrendSample);
  out.threads_in_period = now.total;
  out.previous_threads = then.total;
  out.sampled_threads = now.docids.size();
  if (now.docids.empty() || r.limit == 0) return out;

  // Candidate tags: the most frequent in the sample (tags are boolean terms, which expand sets skip).
  std::map<std::string, std::uint64_t> tag_freq;
  for (Xapian::docid did : now.docids) {
    std::string tags = db.get_document(did).get_value(mapping::kSlotTags);
    std::size_t start = 0;
    while (start < tags.size()) {
      auto nl = tags.find('\n', start);
      if (nl == std::string::npos) nl = tags.size();
      if (nl > start) ++tag_freq[tags.substr(start, nl - start)];
      start = nl + 1;
    }
  }
  std::vector<std::pair<std::uint64_t, std::string>> by_freq;
  for (const auto& [tag, n] : tag_freq) by_freq.emplace_back(n, tag);
  std::stable_sort(by_freq.begin(), by_freq.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  if (by_freq.size() > kTrendTags) by_freq.resize(kTrendTags);
  std::set<std::string> tags;
  for (const auto& [n, tag] : by_freq) tags.insert(tag);

  // Candidate words: the expand set of this period's sample against a database of both periods'
  // samples, i.e. the words that set this period apart from the one before (only this org's threads
  // take part). When there is no previous period to contrast, the most frequent words.
  SampleDb sample;
  CopyWords(db, now.docids, sample);
  CopyWords(db, then.docids, sample);
  ReadableWords readable(nullptr, &tags);  // a tag's own word is reported as the tag
  std::vector<std::string> words;
  if (!then.docids.empty()) {
    Xapian::Enquire e(sample.db);
    Xapian::RSet rset;
    for (Xapian::docid d = 1; d <= now.docids.size(); ++d) rset.add_document(d);
    words = ExpandTerms(e, rset, kTrendTerms, readable);
  }
  if (words.size() < kTrendTerms) {
    for (auto& w : MostFrequent(sample.db, kTrendTerms, readable)) {
      if (words.size() < kTrendTerms && std::find(words.begin(), words.end(), w) == words.end()) words.push_back(w);
    }
  }

  std::vector<TrendingItem> items;
  auto add = [&](TrendingItem::Type type, const std::string& value, const std::string& term) {
    TrendingItem item;
    item.type = type;
    item.value = value;
    item.count = Count(db, Restricted(Xapian::Query(term), r.org_id, std::nullopt, period));
    if (item.count < kMinTrendCount) return;
    item.previous_count = Count(db, Restricted(Xapian::Query(term), r.org_id, std::nullopt, before));
    if (item.count <= item.previous_count) return;
    item.growth = Growth(item.count, item.previous_count);
    items.push_back(std::move(item));
  };
  for (const auto& tag : tags) add(TrendingItem::Type::kTag, tag, mapping::kPrefixTag + tag);
  for (const auto& w : words) add(TrendingItem::Type::kTerm, w, w);
  std::stable_sort(items.begin(), items.end(), [](const TrendingItem& a, const TrendingItem& b) {
    double sa = TrendScore(a), sb = TrendScore(b);
    if (sa != sb) return sa > sb;
    if (a.count != b.count) return a.count > b.count;
    return a.value < b.value;
  });
  if (items.size() > r.limit) items.resize(r.limit);
  out.items = std::move(items);
  return out;
}

}  // namespace streetwise::indexer::topics
