// Document mapping, query building, snippet escaping and the index over a real Store + Xapian.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <thread>

#include "indexer/match.hpp"
#include "indexer/search_index.hpp"
#include "indexer/xapian_mapping.hpp"
#include "service/account_service.hpp"
#include "service/thread_service.hpp"
#include "storage/store.hpp"
#include "unit/support/test_support.hpp"

namespace sw = streetwise;
using sw::testing::FakeClock;
using sw::testing::Must;
using sw::testing::TempDir;
namespace mapping = sw::indexer::mapping;

namespace {

bool HasTerm(const Xapian::Document& doc, const std::string& term) {
  auto it = doc.termlist_begin();
  it.skip_to(term);
  return it != doc.termlist_end() && *it == term;
}

bool QueryHasTerm(const Xapian::Query& q, const std::string& term) {
  for (auto it = q.get_unique_terms_begin(); it != q.get_unique_terms_end(); ++it) {
    if (*it == term) return true;
  }
  return false;
}

sw::core::Thread SampleThread() {
  sw::core::Thread t;
  t.id = "t1";
  t.org_id = "o1";
  t.title = "Does it run on Oracle 19c?";
  t.body = "The customer prices <b>everything</b>.";
  t.tags = {"oracle", "databases"};
  t.kind = sw::core::ThreadKind::kFeatureRequest;
  t.author_id = "u1";
  t.deal.region = " EMEA ";
  t.answers.push_back(sw::core::Answer{"a1", "t1", "Yes, certified.", "", "u2", {}, 3});
  return t;
}

// A store + index + services over one temp dir, with one organisation per caller.
struct World {
  TempDir dir;
  FakeClock clock;
  std::unique_ptr<sw::storage::Store> store =
      Must(sw::storage::Store::Open(dir.path() / "db", {sw::storage::Durability::kOs}));
  sw::service::AccountService accounts{*store, clock};
  sw::service::ThreadService threads{*store, clock};
  std::unique_ptr<sw::indexer::SearchIndex> index = Open();

  std::unique_ptr<sw::indexer::SearchIndex> Open() {
    return Must(sw::indexer::SearchIndex::Open(dir.path() / "index", *store, {std::chrono::milliseconds(10)}));
  }
  sw::service::Caller NewOrg(const std::string& name) {
    auto created = Must(accounts.CreateOrg(name, "admin", std::nullopt));
    return sw::service::Caller{created.value.admin, created.value.token.token.id};
  }
  std::uint64_t Post(const sw::service::Caller& c, const std::string& title, const std::string& body,
                     std::vector<std::string> tags = {}) {
    sw::service::NewThreadInput in;
    in.title = title;
    in.body = body;
    in.tags = std::move(tags);
    return Must(threads.Create(c, in, std::nullopt)).seq;
  }
  sw::indexer::SearchResponse Search(const sw::service::Caller& c, const std::string& q) {
    sw::indexer::SearchRequest r;
    r.org_id = c.org_id();
    r.q = q;
    return Must(index->Search(r));
  }
};

}  // namespace

TEST_CASE("MapThread: boolean filter terms, values and stored data") {
  Xapian::TermGenerator tg;
  tg.set_stemmer(Xapian::Stem("english"));
  auto doc = mapping::MapThread(SampleThread(), tg);
  CHECK(HasTerm(doc, "XOo1"));
  CHECK(HasTerm(doc, "Qt1"));
  CHECK(HasTerm(doc, "Koracle"));
  CHECK(HasTerm(doc, "Kdatabases"));
  CHECK(HasTerm(doc, "XKfeature_request"));
  CHECK(HasTerm(doc, "XSopen"));
  CHECK(HasTerm(doc, "Au1"));
  CHECK(HasTerm(doc, "XRemea"));  // trimmed and lower-cased
  CHECK(HasTerm(doc, "Soracle"));  // title field
  CHECK(HasTerm(doc, "certified"));  // answers are searchable
  CHECK(doc.get_value(mapping::kSlotTags) == "oracle\ndatabases");
  CHECK(Xapian::sortable_unserialise(doc.get_value(mapping::kSlotVotes)) == doctest::Approx(3));
  CHECK(doc.get_data().find("\"id\":\"t1\"") != std::string::npos);
  // Adjacent title words, for the title-phrase boost.
  CHECK(HasTerm(doc, "XTdoes it"));
  CHECK(HasTerm(doc, "XToracle 19c"));
  CHECK_FALSE(HasTerm(doc, "XTdoes run"));
  mapping::FacetValues facets;
  REQUIRE(mapping::DecodeFacets(doc.get_value(mapping::kSlotFacets), facets));
  CHECK(facets.kind == "feature_request");
  CHECK(facets.status == "open");
  CHECK(facets.region == "emea");
  CHECK(facets.product.empty());
  CHECK(facets.tags == std::vector<std::string>{"oracle", "databases"});
}

TEST_CASE("EncodeFacets/DecodeFacets: any bytes round-trip; malformed input is rejected") {
  mapping::FacetValues in{"question", "open", "line\nbreak", "", {"a", std::string(300, 'x'), ""}};
  mapping::FacetValues out;
  auto encoded = mapping::EncodeFacets(in);
  REQUIRE(mapping::DecodeFacets(encoded, out));
  CHECK(out.kind == in.kind);
  CHECK(out.status == in.status);
  CHECK(out.region == in.region);
  CHECK(out.product.empty());
  CHECK(out.tags == in.tags);
  CHECK_FALSE(mapping::DecodeFacets("", out));                         // no kind
  CHECK_FALSE(mapping::DecodeFacets(encoded.substr(0, encoded.size() - 2), out));  // truncated
  CHECK_FALSE(mapping::DecodeFacets(std::string(6, '\xff'), out));     // endless length
}

TEST_CASE("AddSpellings gives every word the frequency FLAG_SPELLING gives it while indexing") {
  TempDir dir;
  Xapian::WritableDatabase live((dir.path() / "live").string(), Xapian::DB_CREATE);
  Xapian::WritableDatabase derived((dir.path() / "derived").string(), Xapian::DB_CREATE);
  Xapian::TermGenerator with_spelling, without;
  for (auto* tg : {&with_spelling, &without}) {
    tg->set_stemmer(Xapian::Stem("english"));
    tg->set_stemming_strategy(Xapian::TermGenerator::STEM_SOME);
  }
  with_spelling.set_database(live);
  with_spelling.set_flags(Xapian::TermGenerator::FLAG_SPELLING);
  auto t = SampleThread();
  for (int i = 0; i < 3; ++i) {
    t.id = "t" + std::to_string(i);
    t.title = i == 1 ? "Oracle oracle 19c licence" : "Does it run on Oracle 19c?";
    t.tags = i == 2 ? std::vector<std::string>{"oracle-db", "emea"} : std::vector<std::string>{"pricing"};
    live.add_document(mapping::MapThread(t, with_spelling));
    derived.add_document(mapping::MapThread(t, without));
  }
  live.commit();
  derived.commit();
  REQUIRE(derived.spellings_begin() == derived.spellings_end());
  mapping::AddSpellings(derived);
  derived.commit();
  std::vector<std::pair<std::string, Xapian::doccount>> expected, got;
  for (auto it = live.spellings_begin(); it != live.spellings_end(); ++it) expected.emplace_back(*it, it.get_termfreq());
  for (auto it = derived.spellings_begin(); it != derived.spellings_end(); ++it) got.emplace_back(*it, it.get_termfreq());
  CHECK(expected.size() > 10);
  CHECK(got == expected);
}

TEST_CASE("The indexing stemmer stems exactly as Snowball English, memo or not") {
  Xapian::Stem memo = mapping::MakeIndexingStemmer();
  Xapian::Stem english("english");
  for (int round = 0; round < 2; ++round) {  // the second round answers from the memo
    for (const char* w : {"pricing", "priced", "deliveries", "oracle", "19c", "running", "généralement", ""}) {
      CHECK(memo(w) == english(w));
    }
  }
}

TEST_CASE("Words splits like the indexer: lower-cased, unstemmed, in order") {
  CHECK(mapping::Words("Does it run on Oracle 19c?") ==
        std::vector<std::string>{"does", "it", "run", "on", "oracle", "19c"});
  CHECK(mapping::Words("").empty());
}

TEST_CASE("BuildUserQuery: fields, filters and the plain-words fallback") {
  Xapian::QueryParser qp;
  mapping::ConfigureParser(qp);
  bool fell_back = true;
  sw::indexer::SearchRequest r;
  r.q = "tag:\" Oracle \" pricing";
  auto q = mapping::BuildUserQuery(r, qp, fell_back);
  CHECK_FALSE(fell_back);
  CHECK(QueryHasTerm(q, "Koracle"));

  r.q = "pricing AND";  // dangling operator: a syntax error
  q = mapping::BuildUserQuery(r, qp, fell_back);
  CHECK(fell_back);
  CHECK_FALSE(q.empty());

  r.q = "";
  r.tags = {"sso"};
  r.region = "APAC";
  q = mapping::BuildUserQuery(r, qp, fell_back);
  CHECK(QueryHasTerm(q, "Ksso"));
  CHECK(QueryHasTerm(q, "XRapac"));
}

TEST_CASE("CreatedBetween with day and month terms matches exactly the value range") {
  // Threads every 7 hours 13 minutes over ~4 years (crossing month, year and leap-day boundaries),
  // plus some at exact day edges; each period must select exactly the threads a value comparison
  // selects.
  Xapian::WritableDatabase db(std::string(), Xapian::DB_BACKEND_INMEMORY);
  constexpr std::int64_t kDay = 86'400'000;
  const std::int64_t start = 1'700'000'000'000;  // 2023-11-14
  std::vector<std::int64_t> created;
  for (std::int64_t ms = start; ms < start + 4 * 366 * kDay; ms += (7 * 60 + 13) * 60'000) created.push_back(ms);
  for (std::int64_t d : {19'700, 19'723, 19'782, 20'000}) {
    created.push_back(d * kDay);
    created.push_back(d * kDay - 1);
  }
  for (auto ms : created) {
    Xapian::Document doc;
    doc.add_boolean_term(mapping::DayTerm(ms));
    doc.add_boolean_term(mapping::MonthTerm(ms));
    doc.add_value(mapping::kSlotCreated, Xapian::sortable_serialise(static_cast<double>(ms)));
    doc.set_data(std::to_string(ms));
    db.add_document(doc);
  }
  CHECK(mapping::DayTerm(19'782 * kDay) == "XD20240229");  // a leap day
  CHECK(mapping::MonthTerm(19'754 * kDay - 1) == "XM202401");  // the last ms of January
  auto count = [&](std::int64_t from, std::int64_t to) {
    Xapian::Enquire e(db);
    e.set_query(mapping::CreatedBetween(from, to));
    return e.get_mset(0, 0, db.get_doccount()).get_matches_estimated();
  };
  auto expected = [&](std::int64_t from, std::int64_t to) {
    return static_cast<Xapian::doccount>(
        std::count_if(created.begin(), created.end(), [&](std::int64_t ms) { return ms >= from && ms <= to; }));
  };
  const std::int64_t feb1 = 19'754 * kDay;  // 2024-02-01 00:00 UTC
  std::vector<std::pair<std::int64_t, std::int64_t>> periods = {
      {feb1, feb1 + 29 * kDay - 1},                    // exactly February 2024 (a month term)
      {feb1 - 3 * kDay, feb1 + 40 * kDay - 1},         // whole days around a whole month
      {feb1 + 12'345, feb1 + 2 * kDay + 999},          // partial first and last day
      {feb1 + 5'000, feb1 + 9'000'000},                // within one day
      {feb1, feb1},                                    // one millisecond
      {feb1 - 400 * kDay + 77, feb1 + 300 * kDay},     // over a year, partial ends
      {start - 10 * kDay, start + 5 * 366 * kDay},     // over three years: a plain value range
      {19'700 * kDay - 1, 19'700 * kDay},              // straddling a midnight
      {feb1 + kDay, feb1},                             // empty: from > to
  };
  for (auto [from, to] : periods) {
    CAPTURE(from);
    CAPTURE(to);
    CHECK(count(from, to) == expected(from, to));
  }
}

TEST_CASE("RestrictToOrg wraps the whole user query in an engine filter") {
  Xapian::QueryParser qp;
  mapping::ConfigureParser(qp);
  bool fb = false;
  sw::indexer::SearchRequest r;
  r.q = "word1) OR (word2";
  auto q = mapping::RestrictToOrg(mapping::BuildUserQuery(r, qp, fb), "o7");
  CHECK(q.get_type() == Xapian::Query::OP_FILTER);
  CHECK(q.get_subquery(1).get_type() == Xapian::Query::LEAF_TERM);
  CHECK(QueryHasTerm(q.get_subquery(1), "XOo7"));
}

TEST_CASE("RestrictToOrg on a database leaves the filter out only when every document is the org's") {
  Xapian::WritableDatabase db(std::string(), Xapian::DB_BACKEND_INMEMORY);
  auto add = [&](const std::string& org) {
    Xapian::Document doc;
    doc.add_term("word");
    doc.add_boolean_term(mapping::OrgTerm(org));
    db.add_document(doc);
  };
  auto matches = [&](const std::string& org) {
    Xapian::Enquire e(db);
    e.set_query(mapping::RestrictToOrg(Xapian::Query("word"), org, db));
    return e.get_mset(0, 10).size();
  };
  CHECK(matches("o1") == 0);  // empty database: still filtered
  add("o1");
  add("o1");
  CHECK(mapping::RestrictToOrg(Xapian::Query("word"), "o1", db).get_type() == Xapian::Query::LEAF_TERM);
  CHECK(matches("o1") == 2);
  CHECK(matches("o2") == 0);  // another org never gets the unfiltered query
  add("o2");
  CHECK(mapping::RestrictToOrg(Xapian::Query("word"), "o1", db).get_type() == Xapian::Query::OP_FILTER);
  CHECK(matches("o1") == 2);
  CHECK(matches("o2") == 1);
  db.delete_document(3);  // o2's only thread: o1 holds every document again
  CHECK(matches("o1") == 2);
  CHECK(matches("o2") == 0);
}

TEST_CASE("SearchIndex: writes become searchable, stemming, snippets are escaped, tenants isolated") {
  World w;
  w.index->Start();
  auto a = w.NewOrg("A");
  auto b = w.NewOrg("B");
  w.Post(a, "Discount policy", "The customer <script>alert(1)</script> was priced too high", {"pricing"});
  auto seq = w.Post(b, "Other org secret", "zanzibar pricing", {"secret"});
  REQUIRE(w.index->WaitForSeq(seq, std::chrono::seconds(5)));

  auto res = w.Search(a, "pricing");
  REQUIRE(res.results.size() == 1);
  CHECK(res.results[0].title == "Discount policy");
  CHECK(res.results[0].snippet.find("&lt;script&gt;") != std::string::npos);
  CHECK(res.results[0].snippet.find("<script>") == std::string::npos);
  CHECK(res.results[0].snippet.find("<mark>priced</mark>") != std::string::npos);
  CHECK(w.Search(a, "zanzibar").results.empty());
  CHECK(w.Search(a, "tag:secret").results.empty());
  CHECK(w.Search(a, "zanzibar OR pricing").results.size() == 1);
  CHECK(w.Search(b, "pricing").results.size() == 1);
}

TEST_CASE("SearchIndex: an exact phrase in the title outranks scattered matches; facets count") {
  World w;
  w.index->Start();
  auto a = w.NewOrg("A");
  // More occurrences of both words, but never adjacent in the title.
  w.Post(a, "Churn risk at the renewal", "The renewal is at risk of churn. Churn again at renewal time.", {"x"});
  w.Post(a, "Renewal churn review", "Numbers attached.", {"y"});
  auto seq = w.Post(a, "Unrelated", "nothing here", {"x"});
  REQUIRE(w.index->WaitForSeq(seq, std::chrono::seconds(5)));

  auto res = w.Search(a, "renewal churn");
  REQUIRE(res.results.size() == 2);
  CHECK(res.results[0].title == "Renewal churn review");
  // The boost only reorders: the scattered match is still found, and without the phrase the
  // scattered match ranks first.
  CHECK(res.results[1].title == "Churn risk at the renewal");
  auto reversed = w.Search(a, "churn renewal");
  REQUIRE(reversed.results.size() == 2);
  CHECK(reversed.results[0].title == "Churn risk at the renewal");
  CHECK(res.facets["tag"] == std::map<std::string, std::uint64_t>{{"x", 1}, {"y", 1}});
  CHECK(res.facets["kind"] == std::map<std::string, std::uint64_t>{{"question", 2}});
  CHECK(res.facets.count("region") == 0);
}

TEST_CASE("SearchIndex: position survives reopen; Rebuild swaps generations with identical results") {
  World w;
  auto a = w.NewOrg("A");
  w.index->Start();
  std::uint64_t seq = 0;
  for (int i = 0; i < 30; ++i) seq = w.Post(a, "Thread number " + std::to_string(i), "shipping to emea");
  REQUIRE(w.index->WaitForSeq(seq, std::chrono::seconds(5)));
  CHECK(w.Search(a, "shipping").estimated_total == 30);

  w.index.reset();  // stops the tailer, commits
  w.index = w.Open();
  CHECK(w.index->AppliedSeq() == seq);
  CHECK(w.Search(a, "shipping").estimated_total == 30);

  auto n = Must(w.index->Rebuild(nullptr));
  CHECK(n == 30);
  CHECK(w.Search(a, "shipping").estimated_total == 30);
  CHECK(w.index->AppliedSeq() == seq);
}

TEST_CASE("SearchIndex: a rebuild in parallel parts finds the same threads as one writer") {
  World w;
  auto a = w.NewOrg("A");
  auto b = w.NewOrg("B");
  std::uint64_t seq = 0;
  for (int i = 0; i < 40; ++i) {
    seq = w.Post(i % 4 ? a : b, "Shipping question " + std::to_string(i), "customs paperwork for emea",
                 {i % 2 ? "odd" : "even"});
  }
  w.index.reset();
  std::uint64_t threads = 40, in_a = 30;
  std::vector<std::string> single_writer_order;
  for (std::size_t writers : {1u, 3u}) {
    CAPTURE(writers);
    sw::indexer::IndexOptions options{std::chrono::milliseconds(10)};
    options.rebuild_writers = writers;
    options.rebuild_flush_docs = 7;  // several flushes per part
    options.rebuild_part_docs = 5;   // and several part databases per writer, merged in order
    auto index = Must(sw::indexer::SearchIndex::Open(w.dir.path() / "index", *w.store, options));
    CHECK(Must(index->Rebuild(nullptr)) == threads);
    CHECK(index->AppliedSeq() == seq);
    for (const auto& entry : std::filesystem::directory_iterator(w.dir.path() / "index")) {
      CHECK(entry.path().filename().string().find(".part-") == std::string::npos);  // parts removed
    }
    sw::indexer::SearchRequest r;
    r.org_id = a.org_id();
    r.q = "customs";
    r.limit = 100;
    auto res = Must(index->Search(r));
    CHECK(res.estimated_total == in_a);
    // Equally scored threads come in document order: the parts are merged in scan order, so a
    // cursor paging across a rebuild sees the order a single writer gives.
    std::vector<std::string> order;
    for (const auto& hit : res.results) {
      if (hit.title.rfind("Shipping question", 0) == 0) order.push_back(hit.thread_id);  // equal scores
    }
    if (writers == 1) single_writer_order = order;
    CHECK(order.size() == 30);
    CHECK(order == single_writer_order);
    CHECK(res.facets["tag"]["odd"] == 20);  // i % 4 != 0 and odd: every odd i
    r.q = "custons";  // the spelling dictionary survives the merge
    CHECK(Must(index->Search(r)).did_you_mean == std::optional<std::string>("customs"));
    // The tailer continues on the rebuilt generation.
    index->Start();
    seq = w.Post(a, "Late thread", "customs again");
    REQUIRE(index->WaitForSeq(seq, std::chrono::seconds(5)));
    r.q = "customs";
    CHECK(Must(index->Search(r)).estimated_total == in_a + 1);
    ++threads;
    ++in_a;
  }
}

TEST_CASE("FacetSpy: a shared budget counts that many documents over all the spies that draw from it") {
  Xapian::Document doc;
  doc.add_value(mapping::kSlotFacets, mapping::EncodeFacets({"question", "open", "emea", "", {"oracle"}}));
  auto count = [](sw::indexer::match::FacetSpy& spy) {
    sw::indexer::match::FacetCounts out;
    spy.TakeInto(out);
    return out["kind"]["question"];
  };
  std::atomic<std::uint64_t> budget{0};
  sw::indexer::match::FacetSpy first(3, &budget), second(3, &budget), own(3), unlimited;
  for (int i = 0; i < 2; ++i) {
    first(doc, 1.0);
    second(doc, 1.0);
  }
  for (int i = 0; i < 5; ++i) {
    own(doc, 1.0);
    unlimited(doc, 1.0);
  }
  CHECK(count(first) == 2);
  CHECK(count(second) == 1);  // the budget of 3 is spent
  CHECK(budget.load() >= 3);
  CHECK(count(own) == 3);
  CHECK(count(unlimited) == 5);
}

TEST_CASE("MatchPart: a part's estimated match count is its share of the whole query's") {
  Xapian::WritableDatabase db(std::string(), Xapian::DB_BACKEND_INMEMORY);
  for (int i = 0; i < 4000; ++i) {
    Xapian::Document doc;
    doc.add_term("a", 1 + i % 3);
    for (int j = 0; j < i % 17; ++j) doc.add_term("filler" + std::to_string(j));  // varied lengths
    if (i % 2 == 0) doc.add_term("even");
    db.add_document(doc);
  }
  db.commit();
  for (const char* term : {"a", "even"}) {
    CAPTURE(term);
    Xapian::Enquire whole(db);
    whole.set_query(Xapian::Query(term));
    whole.set_weighting_scheme(*mapping::MakeWeight());
    auto expected = static_cast<double>(whole.get_mset(0, 10, 50).get_matches_estimated());
    double sum = 0;
    for (auto [first, last] : sw::indexer::match::SplitDocids(db.get_lastdocid(), 4)) {
      auto part = sw::indexer::match::MatchPart(db, Xapian::Query(term), first, last, 10, 50);
      CHECK(part.estimated <= last - first + 1);
      sum += part.estimated;
    }
    CHECK(sum == doctest::Approx(expected).epsilon(0.1));
  }
}

TEST_CASE("SearchIndex: a search split into docid parts returns exactly what a whole search returns") {
  World w;
  auto a = w.NewOrg("A");
  auto b = w.NewOrg("B");
  const std::vector<std::string> words = {"oracle", "delivery", "pricing", "sso", "emea", "discount"};
  for (int i = 0; i < 90; ++i) {
    // Varied lengths and word counts, so weights differ; some threads tie exactly.
    std::string body;
    for (int j = 0; j <= i % 7; ++j) body += words[(i + j) % words.size()] + " filler text ";
    if (i < 60) body += " concentrated";  // a word whose matches all lie in the first docid range(s)
    w.Post(i % 5 ? a : b, "Question " + words[i % words.size()] + " " + words[(i / 6) % words.size()], body,
           {i % 2 ? "odd" : "even"});
  }
  w.index.reset();
  struct Page {
    std::vector<std::pair<std::string, int>> hits;  // thread id, score
    std::vector<std::string> snippets;
    std::uint64_t estimated_total;
    bool has_more;
    std::map<std::string, std::map<std::string, std::uint64_t>> facets;
  };
  auto run = [&](std::size_t parts) {
    sw::indexer::IndexOptions options{std::chrono::milliseconds(10)};
    options.search_threads = parts;
    options.search_split_min_docs = 1;
    auto index = Must(sw::indexer::SearchIndex::Open(w.dir.path() / "index", *w.store, options));
    Must(index->Rebuild(nullptr));  // the same documents and docids each time
    std::vector<Page> pages;

    for (const char* q : {"oracle", "delivery pricing", "\"filler text\"", "emea OR sso", "question -oracle", "nothingmatches", "concentrated"}) {
      for (std::size_t offset : {0u, 7u, 40u}) {
        sw::indexer::SearchRequest r;
        r.org_id = a.org_id();
        r.q = q;
        r.limit = 10;
        r.offset = offset;
        // With parts > 1, keep the answer of a search that was split (retry, bounded, while the
        // helper was still busy with the previous one and the search ran whole).
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        std::uint64_t before = 0;
        sw::indexer::SearchResponse res;
        do {
          before = index->SplitSearchCount();
          res = Must(index->Search(r));
          if (parts == 1) break;
          std::this_thread::yield();
        } while (index->SplitSearchCount() == before && std::chrono::steady_clock::now() < deadline);
        if (parts > 1) CHECK(index->SplitSearchCount() == before + 1);
        Page p{{}, {}, res.estimated_total, res.has_more, res.facets};
        for (const auto& hit : res.results) {
          p.hits.emplace_back(hit.thread_id, hit.score);
          p.snippets.push_back(hit.snippet);
        }
        pages.push_back(std::move(p));
      }
    }
    return pages;
  };
  auto whole = run(1);
  for (std::size_t parts : {2u, 3u}) {
    CAPTURE(parts);
    auto split = run(parts);
    REQUIRE(split.size() == whole.size());
    for (std::size_t i = 0; i < whole.size(); ++i) {
      CAPTURE(i);
      REQUIRE(split[i].hits.size() == whole[i].hits.size());
      for (std::size_t h = 0; h < whole[i].hits.size(); ++h) {
        CHECK(split[i].hits[h] == whole[i].hits[h]);  // same threads, same order, same scores
        CHECK(split[i].snippets[h] == whole[i].snippets[h]);
      }
      CHECK(split[i].estimated_total == whole[i].estimated_total);
      CHECK(split[i].has_more == whole[i].has_more);
      CHECK(split[i].facets == whole[i].facets);
    }
  }
  CHECK(whole[0].estimated_total > 40);  // the pages above really page (offsets 7 and 40)
  CHECK(whole[0].has_more);
  CHECK(whole[0].hits.front().second == 100);  // the best hit scores 100
}

TEST_CASE("SearchIndex: an index positioned beyond the change log is rebuilt at open") {
  World w;
  auto a = w.NewOrg("A");
  w.index->Start();
  auto seq = w.Post(a, "Kept thread", "alpha");
  REQUIRE(w.index->WaitForSeq(seq, std::chrono::seconds(5)));
  w.index.reset();
  // A different, empty store: the index claims a position the log does not have.
  TempDir other;
  auto empty = Must(sw::storage::Store::Open(other.path() / "db", {sw::storage::Durability::kOs}));
  auto reopened = Must(sw::indexer::SearchIndex::Open(w.dir.path() / "index", *empty, {}));
  CHECK(reopened->AppliedSeq() == 0);
  sw::indexer::SearchRequest r;
  r.org_id = a.org_id();
  r.q = "alpha";
  CHECK(Must(reopened->Search(r)).results.empty());
}
