// Recurring topics and trending words over a small in-memory index built with the real mapping.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "indexer/topics.hpp"
#include "indexer/xapian_mapping.hpp"

namespace sw = streetwise;
namespace mapping = sw::indexer::mapping;
namespace topics = sw::indexer::topics;
using sw::core::ThreadKind;

namespace {

constexpr std::int64_t kNowMs = 1'780'000'000'000;
constexpr std::int64_t kDayMs = 24 * 3600 * 1000;

struct Seed {
  std::string id;
  std::string title;
  std::string body;
  std::string account;
  std::int64_t days_ago = 1;
  ThreadKind kind = ThreadKind::kFeatureRequest;
  std::string org = "o1";
  std::vector<std::string> tags = {};
};

// An in-memory index holding `seeds`, mapped exactly as the live index maps threads.
Xapian::WritableDatabase Index(const std::vector<Seed>& seeds) {
  Xapian::WritableDatabase db(std::string(), Xapian::DB_BACKEND_INMEMORY);
  Xapian::TermGenerator tg;
  tg.set_stemmer(Xapian::Stem("english"));
  tg.set_stemming_strategy(Xapian::TermGenerator::STEM_SOME);
  for (const auto& s : seeds) {
    sw::core::Thread t;
    t.id = s.id;
    t.org_id = s.org;
    t.title = s.title;
    t.body = s.body;
    t.kind = s.kind;
    t.tags = s.tags;
    t.author_id = "u1";
    if (!s.account.empty()) t.deal.account = s.account;
    t.created_at = sw::core::FromUnixMillis(kNowMs - s.days_ago * kDayMs);
    t.updated_at = t.created_at;
    db.replace_document(mapping::IdTerm(t.id), mapping::MapThread(t, tg));
  }
  db.commit();
  return db;
}

// The feature requests of the seeded org: two capabilities asked for in different words, two
// unrelated requests, one older SSO request (previous period), a question (other kind) and a second
// organisation asking for the same thing (must never count).
std::vector<Seed> SeededOrg() {
  std::vector<Seed> seeds = {
      {"sso1", "Single sign-on with Okta", "Acme needs SSO through Okta for every sales rep before they sign.", "Acme"},
      {"sso2", "SAML login for the customer portal",
       "Globex security requires SAML 2.0 single sign-on; their identity provider is Okta.", "Globex"},
      {"sso3", "Log in through the corporate identity provider",
       "Initech wants staff to authenticate with SAML instead of separate passwords.", "Initech", 2},
      {"exp1", "Export reports to Excel", "The finance team wants to download the monthly report as an Excel file.",
       "Umbrella"},
      {"exp2", "CSV export of order history", "Please let customers export their order history to CSV.", "umbrella "},
      {"exp3", "Download a table as a spreadsheet", "Hooli asks for a button that exports any table to CSV or Excel.",
       "Hooli", 3},
      {"dark", "Dark mode for the mobile app", "Field reps use the app at night and want a darker theme.", "Stark"},
      {"ship", "Faster delivery to Norway", "Shipments to Oslo take three weeks; a regional warehouse would help.",
       "Wayne"},
      {"old-sso", "Okta single sign-on", "Vandelay wants SSO with Okta and SAML.", "Vandelay", 45},
      {"q1", "Does the SAML single sign-on work with Okta?", "A question, not a request.", "Acme", 1,
       ThreadKind::kQuestion},
      {"other1", "Single sign-on with Okta", "Another org needs SSO with Okta and SAML.", "Zeta", 1,
       ThreadKind::kFeatureRequest, "o2"},
      {"other2", "Okta SAML SSO", "Another org wants single sign-on through Okta.", "Eta", 1,
       ThreadKind::kFeatureRequest, "o2"},
      {"other3", "Price list for 2027", "When does the new price list come out?", "Eta", 90, ThreadKind::kQuestion,
       "o2"},
      {"other4", "Warehouse in Lyon", "Can we ship from the Lyon warehouse?", "Zeta", 90, ThreadKind::kQuestion, "o2"},
      {"other5", "Renewal discount", "Which discount applies to a two-year renewal?", "Eta", 90,
       ThreadKind::kQuestion, "o2"},
  };
  // The org's everyday questions from earlier months: the background against which words are
  // common ("customer", "wants", "through") or rare ("Okta", "CSV").
  const char* everyday[][2] = {
      {"Discount for a three-year deal", "The customer wants a bigger discount if they sign through the partner."},
      {"Lead time for Spain", "Our rep needs the delivery lead time before the customer signs."},
      {"Who owns the Globex renewal?", "The customer wants to talk through the renewal terms with the team."},
      {"Is there a reference customer in retail?", "The rep needs a reference the customer can call this week."},
      {"Payment terms net 60", "Procurement wants net 60; can the team approve it through the deal desk?"},
      {"Onboarding timeline", "How long does onboarding take for a customer with 500 users?"},
      {"Price increase letter", "The customer asks why the price went up and wants the letter from the team."},
      {"Support hours in APAC", "The customer needs support through the night for their Sydney office."},
      {"Competitor offer", "A competitor offered a lower price; the rep wants help with the answer."},
      {"Invoice in euros", "The customer wants the invoice in euros with the purchase order number."},
      {"Contract renewal date", "When does the Initech contract renew, and who on the team handles it?"},
      {"Training for new users", "The customer wants training for new users through a live session."},
  };
  int n = 0;
  for (const auto& q : everyday) {
    seeds.push_back({"bg" + std::to_string(n), q[0], q[1], "Acme", 60 + n, ThreadKind::kQuestion});
    ++n;
  }
  return seeds;
}

sw::indexer::TopicsRequest Last30Days(std::string org = "o1") {
  sw::indexer::TopicsRequest r;
  r.org_id = std::move(org);
  r.kind = "feature_request";
  r.to = sw::core::FromUnixMillis(kNowMs);
  r.from = sw::core::FromUnixMillis(kNowMs - 30 * kDayMs);
  return r;
}

std::set<std::string> Ids(const sw::indexer::Topic& t) {
  return std::set<std::string>(t.example_thread_ids.begin(), t.example_thread_ids.end());
}

const sw::indexer::Topic* TopicWith(const sw::indexer::TopicsResponse& r, const std::string& id) {
  for (const auto& t : r.topics) {
    if (Ids(t).count(id)) return &t;
  }
  return nullptr;
}

bool LabelHasAny(const sw::indexer::Topic& t, std::initializer_list<const char*> words) {
  return std::any_of(words.begin(), words.end(), [&](const char* w) {
    return std::find(t.terms.begin(), t.terms.end(), w) != t.terms.end();
  });
}

}  // namespace

TEST_CASE("topics: differently worded requests for one capability form one topic") {
  auto db = Index(SeededOrg());
  auto r = topics::FindTopics(db, Last30Days());
  CHECK(r.threads_in_period == 8);
  CHECK(r.sampled_threads == 8);
  REQUIRE(r.topics.size() == 2);

  const auto* sso = TopicWith(r, "sso1");
  REQUIRE(sso != nullptr);
  CHECK(Ids(*sso) == std::set<std::string>{"sso1", "sso2", "sso3"});
  CHECK(sso->thread_count == 3);
  CHECK(sso->account_count == 3);
  CHECK(sso->previous_thread_count == 1);  // old-sso, 45 days ago
  REQUIRE(sso->growth.has_value());
  CHECK(*sso->growth == doctest::Approx(2.0));
  CHECK(LabelHasAny(*sso, {"okta", "saml", "sso", "single", "sign"}));
  CHECK(sso->label.find(", ") != std::string::npos);

  const auto* exp = TopicWith(r, "exp1");
  REQUIRE(exp != nullptr);
  CHECK(Ids(*exp) == std::set<std::string>{"exp1", "exp2", "exp3"});
  CHECK(exp->thread_count == 3);
  CHECK(exp->account_count == 2);  // "Umbrella" and "umbrella " are one account
  CHECK(exp->previous_thread_count == 0);
  CHECK_FALSE(exp->growth.has_value());
  CHECK(LabelHasAny(*exp, {"export", "csv", "excel", "spreadsheet"}));

  // The unrelated requests are no topic of their own (a topic recurs).
  CHECK(TopicWith(r, "dark") == nullptr);
  CHECK(TopicWith(r, "ship") == nullptr);
}

TEST_CASE("topics: another organisation's threads never count") {
  auto db = Index(SeededOrg());
  auto r = topics::FindTopics(db, Last30Days("o2"));
  CHECK(r.threads_in_period == 2);
  REQUIRE(r.topics.size() == 1);
  CHECK(r.topics[0].thread_count == 2);
  CHECK(r.topics[0].account_count == 2);
  CHECK(Ids(r.topics[0]) == std::set<std::string>{"other1", "other2"});

  auto none = topics::FindTopics(db, Last30Days("o3"));
  CHECK(none.threads_in_period == 0);
  CHECK(none.topics.empty());
}

TEST_CASE("topics: kind, period and limit restrict the threads") {
  auto db = Index(SeededOrg());
  auto r = Last30Days();
  r.kind = "question";
  auto questions = topics::FindTopics(db, r);
  CHECK(questions.threads_in_period == 1);
  CHECK(questions.topics.empty());

  r = Last30Days();
  r.from = sw::core::FromUnixMillis(kNowMs - kDayMs - 1);  // only the threads created 1 day ago
  auto recent = topics::FindTopics(db, r);
  CHECK(recent.threads_in_period == 6);

  r = Last30Days();
  r.limit = 1;
  CHECK(topics::FindTopics(db, r).topics.size() == 1);
}

TEST_CASE("trending: words and tags that grew against the previous period") {
  std::vector<Seed> seeds;
  // Previous period (31..60 days ago): pricing steady, one okta thread.
  for (int i = 0; i < 4; ++i) {
    seeds.push_back({"p" + std::to_string(i), "Pricing question " + std::to_string(i),
                     "Discount for a multi-year deal.", "A", 40, ThreadKind::kQuestion, "o1", {"pricing"}});
  }
  seeds.push_back({"po", "Okta login", "Okta federation.", "A", 40, ThreadKind::kQuestion, "o1", {"okta"}});
  // Current period: pricing unchanged, okta 1 -> 8, a new word (kubernetes) in three threads.
  for (int i = 0; i < 4; ++i) {
    seeds.push_back({"c" + std::to_string(i), "Pricing question " + std::to_string(i),
                     "Discount for a multi-year deal.", "A", 5, ThreadKind::kQuestion, "o1", {"pricing"}});
  }
  for (int i = 0; i < 8; ++i) {
    seeds.push_back({"o" + std::to_string(i), "Okta " + std::to_string(i),
                     i < 3 ? "Runs on Kubernetes clusters." : "Identity provider federation.", "A", 3, ThreadKind::kQuestion,
                     "o1", {"okta"}});
  }
  // Another org: kubernetes everywhere, never counted for o1.
  for (int i = 0; i < 6; ++i) {
    seeds.push_back({"x" + std::to_string(i), "Kubernetes", "Kubernetes Kubernetes.", "B", 3, ThreadKind::kQuestion,
                     "o2", {"kubernetes"}});
  }
  auto db = Index(seeds);
  sw::indexer::TrendingRequest r;
  r.org_id = "o1";
  r.to = sw::core::FromUnixMillis(kNowMs);
  r.from = sw::core::FromUnixMillis(kNowMs - 30 * kDayMs);
  auto t = topics::FindTrending(db, r);
  CHECK(t.threads_in_period == 12);
  CHECK(t.previous_threads == 5);
  REQUIRE_FALSE(t.items.empty());

  auto find = [&](sw::indexer::TrendingItem::Type type, const std::string& v) -> const sw::indexer::TrendingItem* {
    for (const auto& i : t.items) {
      if (i.type == type && i.value == v) return &i;
    }
    return nullptr;
  };
  const auto* okta = find(sw::indexer::TrendingItem::Type::kTag, "okta");
  REQUIRE(okta != nullptr);
  CHECK(okta->count == 8);
  CHECK(okta->previous_count == 1);
  CHECK(*okta->growth == doctest::Approx(7.0));
  CHECK(t.items[0].value == "okta");  // the strongest rise comes first
  const auto* kube = find(sw::indexer::TrendingItem::Type::kTerm, "kubernetes");
  REQUIRE(kube != nullptr);
  CHECK(kube->count == 3);  // o2's six threads are not counted
  CHECK(kube->previous_count == 0);
  CHECK_FALSE(kube->growth.has_value());
  CHECK(find(sw::indexer::TrendingItem::Type::kTag, "pricing") == nullptr);  // no growth
  CHECK(find(sw::indexer::TrendingItem::Type::kTerm, "okta") == nullptr);    // reported as the tag

  r.limit = 1;
  CHECK(topics::FindTrending(db, r).items.size() == 1);
}

TEST_CASE("MapThread: the account is a value for distinct counts") {
  Xapian::TermGenerator tg;
  sw::core::Thread t;
  t.id = "t1";
  t.org_id = "o1";
  t.title = "x";
  t.deal.account = " Acme Corp ";
  auto doc = mapping::MapThread(t, tg);
  CHECK(doc.get_value(mapping::kSlotAccount) == "acme corp");
}
