// Document mapping, query building, snippet escaping and the index over a real Store + Xapian.
#include <doctest/doctest.h>

#include <chrono>
#include <string>

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
