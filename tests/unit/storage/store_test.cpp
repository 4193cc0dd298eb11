#include "storage/store.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/crypto.hpp"
#include "unit/support/test_support.hpp"

namespace streetwise::storage {
namespace {
TEST_SUITE_BEGIN("storage");
using core::EventType;
using core::ThreadKind;
using core::ThreadStatus;
using testing::Must;
using testing::MustFail;

constexpr std::int64_t kT0 = 1'780'000'000'000;

StoreOptions FastOptions() {
  StoreOptions o;
  o.durability = Durability::kOs;  // temp dirs need no fsync; the reopen test uses kFsync
  o.block_cache_bytes = 8u << 20;
  return o;
}

// A store in a fresh temp dir; Reopen() closes and opens it again on the same files.
struct StoreFixture {
  testing::TempDir dir;
  StoreOptions options = FastOptions();
  std::unique_ptr<Store> store;

  StoreFixture() { Reopen(); }
  void Reopen() {
    store.reset();
    store = Must(Store::Open(dir.path() / "db", options));
  }
};

core::Event MakeEvent(EventType type, const std::string& org, std::optional<std::string> thread_id = std::nullopt) {
  core::Event e;
  e.type = type;
  e.org_id = org;
  e.thread_id = std::move(thread_id);
  e.at = core::FromUnixMillis(kT0);
  return e;
}

// A thread whose id encodes `ms`, so a larger `ms` is a newer thread.
core::Thread MakeThread(const std::string& org, std::int64_t ms, std::vector<std::string> tags = {},
                        ThreadStatus status = ThreadStatus::kOpen, ThreadKind kind = ThreadKind::kQuestion,
                        const std::string& author = "u1") {
  core::Thread t;
  t.org_id = org;
  t.id = core::NewId("t", core::FromUnixMillis(kT0 + ms));
  t.title = "thread " + std::to_string(ms);
  t.body = "body";
  t.body_html = "<p>body</p>\n";
  t.tags = std::move(tags);
  t.status = status;
  t.kind = kind;
  t.author_id = author;
  t.created_at = t.updated_at = core::FromUnixMillis(kT0 + ms);
  return t;
}

// Commits a new thread (no `before`) with its creation event.
void PutNew(Store& store, const core::Thread& t) {
  Mutation m;
  m.PutThread(t, nullptr);
  m.AddEvent(MakeEvent(EventType::kThreadCreated, t.org_id, t.id));
  (void)Must(store.Commit(std::move(m)));
}

// Commits `now` as an update of `before`.
void PutUpdate(Store& store, const core::Thread& now, const core::Thread& before) {
  Mutation m;
  m.PutThread(now, &before);
  m.AddEvent(MakeEvent(EventType::kThreadEdited, now.org_id, now.id));
  (void)Must(store.Commit(std::move(m)));
}

std::map<std::string, std::int64_t> AllTags(const Store& store, const std::string& org) {
  auto page = Must(store.ListTags(org, std::nullopt, 1000));
  CHECK_FALSE(page.next_key.has_value());
  std::map<std::string, std::int64_t> out;
  for (const auto& tc : page.items) out[tc.tag] = tc.count;
  return out;
}

std::vector<std::string> Ids(const std::vector<core::Thread>& threads) {
  std::vector<std::string> out;
  for (const auto& t : threads) out.push_back(t.id);
  return out;
}

// Every page of a listing, following next_key; fails the test if paging does not terminate.
std::vector<std::string> ListAll(const Store& store, const std::string& org, const ThreadFilter& filter,
                                 std::size_t limit, std::size_t scan_budget = 5000) {
  std::vector<std::string> out;
  std::optional<std::string> after;
  for (int pages = 0; pages < 1000; ++pages) {
    auto page = Must(store.ListThreads(org, filter, after, limit, scan_budget));
    CHECK(page.items.size() <= limit);
    for (const auto& t : page.items) out.push_back(t.id);
    if (!page.next_key) return out;
    REQUIRE(page.next_key != after);  // each page must make progress
    after = page.next_key;
  }
  FAIL("paging did not terminate");
  return out;
}

std::vector<std::uint64_t> Seqs(const std::vector<core::Event>& events) {
  std::vector<std::uint64_t> out;
  for (const auto& e : events) out.push_back(e.seq);
  return out;
}

TEST_CASE("Commit assigns strictly increasing seqs and ReadChangeLog returns them in order") {
  StoreFixture f;
  Store& s = *f.store;
  CHECK(s.VisibleHead() == 0);
  CHECK(Must(s.ReadChangeLog(0, 100)).empty());

  Mutation m1;
  m1.PutOrg(core::Org{"oA", "Org A", core::FromUnixMillis(kT0)});
  m1.AddEvent(MakeEvent(EventType::kOrgCreated, "oA"));
  m1.AddEvent(MakeEvent(EventType::kUserCreated, "oA"));
  CHECK(Must(s.Commit(std::move(m1))) == 2);  // the seq of its last event
  CHECK(s.VisibleHead() == 2);

  Mutation m2;
  m2.AddEvent(MakeEvent(EventType::kTokenCreated, "oA"));
  CHECK(Must(s.Commit(std::move(m2))) == 3);

  // No events: nothing is assigned and the current head is returned.
  Mutation m3;
  m3.PutOrg(core::Org{"oB", "Org B", core::FromUnixMillis(kT0)});
  CHECK(Must(s.Commit(std::move(m3))) == 3);
  CHECK(s.VisibleHead() == 3);
  CHECK(Must(s.GetOrg("oB")).name == "Org B");

  auto all = Must(s.ReadChangeLog(0, 100));
  CHECK(Seqs(all) == std::vector<std::uint64_t>{1, 2, 3});
  REQUIRE(all.size() == 3);
  CHECK(all[0].type == EventType::kOrgCreated);
  CHECK(all[1].type == EventType::kUserCreated);
  CHECK(all[2].type == EventType::kTokenCreated);
  CHECK(all[0].org_id == "oA");

  CHECK(Seqs(Must(s.ReadChangeLog(1, 1))) == std::vector<std::uint64_t>{2});  // `after` is exclusive
  CHECK(Seqs(Must(s.ReadChangeLog(1, 100))) == std::vector<std::uint64_t>{2, 3});
  CHECK(Must(s.ReadChangeLog(3, 100)).empty());

  Mutation m4;
  m4.AddEvent(MakeEvent(EventType::kUserCreated, "oB"));
  CHECK(Must(s.Commit(std::move(m4))) == 4);
  CHECK(Seqs(Must(s.ReadChangeLog(3, 100))) == std::vector<std::uint64_t>{4});
}

TEST_CASE("ListOrgEvents returns one org's events in seq order and nothing of other orgs") {
  StoreFixture f;
  Store& s = *f.store;
  // "oA" is a prefix of "oAB": the org scan must stop at the '/' boundary.
  for (const char* org : {"oA", "oB", "oAB", "oA"}) {
    Mutation m;
    m.AddEvent(MakeEvent(EventType::kThreadCreated, org));
    (void)Must(s.Commit(std::move(m)));
  }
  Mutation mixed;  // one batch touching two orgs
  mixed.AddEvent(MakeEvent(EventType::kAnswerCreated, "oB"));
  mixed.AddEvent(MakeEvent(EventType::kAnswerCreated, "oA"));
  CHECK(Must(s.Commit(std::move(mixed))) == 6);

  auto a = Must(s.ListOrgEvents("oA", 0, 100));
  CHECK(Seqs(a) == std::vector<std::uint64_t>{1, 4, 6});
  for (const auto& e : a) CHECK(e.org_id == "oA");
  CHECK(Seqs(Must(s.ListOrgEvents("oB", 0, 100))) == std::vector<std::uint64_t>{2, 5});
  CHECK(Seqs(Must(s.ListOrgEvents("oAB", 0, 100))) == std::vector<std::uint64_t>{3});
  CHECK(Must(s.ListOrgEvents("o", 0, 100)).empty());
  CHECK(Must(s.ListOrgEvents("oC", 0, 100)).empty());

  CHECK(Seqs(Must(s.ListOrgEvents("oA", 1, 100))) == std::vector<std::uint64_t>{4, 6});
  CHECK(Seqs(Must(s.ListOrgEvents("oA", 2, 100))) == std::vector<std::uint64_t>{4, 6});  // after need not be ours
  CHECK(Seqs(Must(s.ListOrgEvents("oA", 0, 2))) == std::vector<std::uint64_t>{1, 4});
  CHECK(Must(s.ListOrgEvents("oA", 6, 100)).empty());

  CHECK(Seqs(Must(s.ReadChangeLog(0, 100))) == std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6});
}

TEST_CASE("PutThread keeps tag counts and the tag index in step with tag changes") {
  StoreFixture f;
  Store& s = *f.store;
  core::Thread t1 = MakeThread("oA", 1, {"pricing", "emea"});
  core::Thread t2 = MakeThread("oA", 2, {"pricing", "apac"});
  core::Thread other = MakeThread("oB", 3, {"pricing", "secret"});
  PutNew(s, t1);
  PutNew(s, t2);
  PutNew(s, other);

  using Counts = std::map<std::string, std::int64_t>;
  CHECK(AllTags(s, "oA") == Counts{{"apac", 1}, {"emea", 1}, {"pricing", 2}});
  CHECK(AllTags(s, "oB") == Counts{{"pricing", 1}, {"secret", 1}});

  ThreadFilter by_tag;
  by_tag.tag = "pricing";
  CHECK(Ids(Must(s.ListThreads("oA", by_tag, std::nullopt, 10)).items) == std::vector<std::string>{t2.id, t1.id});

  // An edit that keeps the tags must not count them twice.
  core::Thread t1_retitled = t1;
  t1_retitled.title = "new title";
  t1_retitled.version = 2;
  PutUpdate(s, t1_retitled, t1);
  CHECK(AllTags(s, "oA") == Counts{{"apac", 1}, {"emea", 1}, {"pricing", 2}});

  // emea -> renewals: emea's count reaches 0 and it disappears; renewals appears.
  core::Thread t1_retagged = t1_retitled;
  t1_retagged.tags = {"pricing", "renewals"};
  t1_retagged.version = 3;
  PutUpdate(s, t1_retagged, t1_retitled);
  CHECK(AllTags(s, "oA") == Counts{{"apac", 1}, {"pricing", 2}, {"renewals", 1}});
  by_tag.tag = "emea";
  CHECK(Must(s.ListThreads("oA", by_tag, std::nullopt, 10)).items.empty());
  by_tag.tag = "renewals";
  CHECK(Ids(Must(s.ListThreads("oA", by_tag, std::nullopt, 10)).items) == std::vector<std::string>{t1.id});

  // Dropping every tag of t2: pricing goes down, apac disappears.
  core::Thread t2_untagged = t2;
  t2_untagged.tags = {};
  PutUpdate(s, t2_untagged, t2);
  CHECK(AllTags(s, "oA") == Counts{{"pricing", 1}, {"renewals", 1}});
  by_tag.tag = "pricing";
  CHECK(Ids(Must(s.ListThreads("oA", by_tag, std::nullopt, 10)).items) == std::vector<std::string>{t1.id});
  by_tag.tag = "apac";
  CHECK(Must(s.ListThreads("oA", by_tag, std::nullopt, 10)).items.empty());

  // Re-adding a tag that had disappeared brings it back with count 1.
  core::Thread t2_again = t2_untagged;
  t2_again.tags = {"emea"};
  PutUpdate(s, t2_again, t2_untagged);
  CHECK(AllTags(s, "oA") == Counts{{"emea", 1}, {"pricing", 1}, {"renewals", 1}});

  // The other org was never touched.
  CHECK(AllTags(s, "oB") == Counts{{"pricing", 1}, {"secret", 1}});
  by_tag.tag = "secret";
  CHECK(Must(s.ListThreads("oA", by_tag, std::nullopt, 10)).items.empty());
}

TEST_CASE("ListTags pages through tags in order without duplicates or gaps") {
  StoreFixture f;
  Store& s = *f.store;
  PutNew(s, MakeThread("oA", 1, {"a", "b", "c"}));
  PutNew(s, MakeThread("oA", 2, {"d", "e"}));
  core::Thread gone = MakeThread("oA", 3, {"bb"});
  PutNew(s, gone);
  core::Thread gone_now = gone;
  gone_now.tags = {};
  PutUpdate(s, gone_now, gone);  // "bb" has count 0 and must be skipped, not returned

  std::vector<std::string> seen;
  std::optional<std::string> after;
  for (int i = 0; i < 20; ++i) {
    auto page = Must(s.ListTags("oA", after, 2));
    CHECK(page.items.size() <= 2);
    for (const auto& tc : page.items) {
      CHECK(tc.count == 1);
      seen.push_back(tc.tag);
    }
    if (!page.next_key) break;
    after = page.next_key;
  }
  CHECK(seen == std::vector<std::string>{"a", "b", "c", "d", "e"});
}

TEST_CASE("ListThreads lists newest first and filters by status, kind, author and tag") {
  StoreFixture f;
  Store& s = *f.store;
  core::Thread q_open = MakeThread("oA", 1, {"pricing"}, ThreadStatus::kOpen, ThreadKind::kQuestion, "alice");
  core::Thread q_answered = MakeThread("oA", 2, {"pricing", "emea"}, ThreadStatus::kAnswered, ThreadKind::kQuestion, "bob");
  core::Thread tip = MakeThread("oA", 3, {"emea"}, ThreadStatus::kOpen, ThreadKind::kTip, "alice");
  core::Thread complaint = MakeThread("oA", 4, {}, ThreadStatus::kResolved, ThreadKind::kComplaint, "bob");
  core::Thread q_closed = MakeThread("oA", 5, {"pricing"}, ThreadStatus::kClosed, ThreadKind::kQuestion, "alice");
  core::Thread foreign = MakeThread("oB", 6, {"pricing"}, ThreadStatus::kOpen, ThreadKind::kQuestion, "alice");
  // Written out of creation order: the listing order must come from the ids, not write order.
  for (const auto* t : {&tip, &q_open, &q_closed, &complaint, &q_answered, &foreign}) PutNew(s, *t);

  auto list = [&](const ThreadFilter& filter) { return Ids(Must(s.ListThreads("oA", filter, std::nullopt, 100)).items); };
  using V = std::vector<std::string>;

  auto everything = Must(s.ListThreads("oA", ThreadFilter{}, std::nullopt, 100));
  CHECK_FALSE(everything.next_key.has_value());
  CHECK(Ids(everything.items) == V{q_closed.id, complaint.id, tip.id, q_answered.id, q_open.id});
  REQUIRE(everything.items.size() == 5);
  CHECK(everything.items[0].title == q_closed.title);
  CHECK(everything.items[0].tags == q_closed.tags);

  ThreadFilter f_status;
  f_status.status = ThreadStatus::kOpen;
  CHECK(list(f_status) == V{tip.id, q_open.id});

  ThreadFilter f_kind;
  f_kind.kind = ThreadKind::kQuestion;
  CHECK(list(f_kind) == V{q_closed.id, q_answered.id, q_open.id});

  ThreadFilter f_author;
  f_author.author_id = "bob";
  CHECK(list(f_author) == V{complaint.id, q_answered.id});

  ThreadFilter f_tag;
  f_tag.tag = "pricing";
  CHECK(list(f_tag) == V{q_closed.id, q_answered.id, q_open.id});

  ThreadFilter f_tag_status;  // tag scan plus a lookup of the filter fields
  f_tag_status.tag = "pricing";
  f_tag_status.status = ThreadStatus::kOpen;
  CHECK(list(f_tag_status) == V{q_open.id});

  ThreadFilter f_tag_author;
  f_tag_author.tag = "emea";
  f_tag_author.author_id = "alice";
  CHECK(list(f_tag_author) == V{tip.id});

  ThreadFilter f_kind_author;
  f_kind_author.kind = ThreadKind::kQuestion;
  f_kind_author.author_id = "alice";
  CHECK(list(f_kind_author) == V{q_closed.id, q_open.id});

  ThreadFilter f_none;
  f_none.author_id = "nobody";
  CHECK(list(f_none).empty());
  ThreadFilter f_unknown_tag;
  f_unknown_tag.tag = "nope";
  CHECK(list(f_unknown_tag).empty());

  // A status change moves the thread between filtered listings (the index is kept in step).
  core::Thread reopened = q_closed;
  reopened.status = ThreadStatus::kOpen;
  reopened.version = 2;
  PutUpdate(s, reopened, q_closed);
  CHECK(list(f_status) == V{q_closed.id, tip.id, q_open.id});
  CHECK(list(f_tag_status) == V{q_closed.id, q_open.id});

  // Another org sees only its own thread.
  CHECK(Ids(Must(s.ListThreads("oB", ThreadFilter{}, std::nullopt, 100)).items) == V{foreign.id});
  CHECK(Must(s.ListThreads("oC", ThreadFilter{}, std::nullopt, 100)).items.empty());
}

TEST_CASE("ListThreads paging with next_key has no duplicates and no gaps") {
  StoreFixture f;
  Store& s = *f.store;
  std::vector<core::Thread> threads;
  for (int i = 0; i < 23; ++i) {
    std::vector<std::string> tags;
    if (i % 3 == 0) tags.push_back("x");
    if (i % 2 == 0) tags.push_back("even");
    threads.push_back(MakeThread("oA", i, tags, i % 4 == 0 ? ThreadStatus::kAnswered : ThreadStatus::kOpen,
                                 ThreadKind::kQuestion, i % 2 == 0 ? "alice" : "bob"));
    PutNew(s, threads.back());
    PutNew(s, MakeThread("oAB", 100 + i, tags));  // a neighbouring org with a prefix-sharing id
  }

  auto expected = [&](auto pred) {
    std::vector<std::string> out;
    for (auto it = threads.rbegin(); it != threads.rend(); ++it) {
      if (pred(*it)) out.push_back(it->id);
    }
    return out;
  };
  auto has = [](const core::Thread& t, const std::string& tag) {
    return std::find(t.tags.begin(), t.tags.end(), tag) != t.tags.end();
  };

  ThreadFilter none;
  ThreadFilter by_author;
  by_author.author_id = "bob";
  ThreadFilter by_tag;
  by_tag.tag = "x";
  ThreadFilter by_tag_status;
  by_tag_status.tag = "even";
  by_tag_status.status = ThreadStatus::kAnswered;

  struct Case {
    const char* name;
    ThreadFilter filter;
    std::vector<std::string> want;
  };
  std::vector<Case> cases{
      {"none", none, expected([](const core::Thread&) { return true; })},
      {"author", by_author, expected([](const core::Thread& t) { return t.author_id == "bob"; })},
      {"tag", by_tag, expected([&](const core::Thread& t) { return has(t, "x"); })},
      {"tag+status", by_tag_status,
       expected([&](const core::Thread& t) { return has(t, "even") && t.status == ThreadStatus::kAnswered; })},
  };
  for (const auto& c : cases) {
    for (std::size_t limit : {1u, 2u, 3u, 5u, 22u, 23u, 24u, 100u}) {
      for (std::size_t budget : {5000u, 1u, 3u}) {
        CAPTURE(c.name);
        CAPTURE(limit);
        CAPTURE(budget);
        CHECK(ListAll(s, "oA", c.filter, limit, budget) == c.want);
      }
    }
  }
}

TEST_CASE("A reopened store keeps its data, tag counts and change-log head") {
  StoreFixture f;
  f.options.durability = Durability::kFsync;
  f.Reopen();

  core::Thread t = MakeThread("oA", 1, {"pricing", "emea"}, ThreadStatus::kAnswered, ThreadKind::kTip, "alice");
  t.deal.account = "ACME";
  t.deal.needed_by = "2026-12-01";
  t.deal.deal_value = 12500.5;
  t.answers.push_back(core::Answer{"a1", t.id, "answer", "<p>answer</p>\n", "bob", core::FromUnixMillis(kT0 + 2), 3});
  t.accepted_answer_id = "a1";
  {
    Mutation m;
    m.PutOrg(core::Org{"oA", "Org A", core::FromUnixMillis(kT0)});
    m.AddEvent(MakeEvent(EventType::kOrgCreated, "oA"));
    (void)Must(f.store->Commit(std::move(m)));
  }
  PutNew(*f.store, t);
  PutNew(*f.store, MakeThread("oA", 2, {"pricing"}));
  const std::uint64_t head = f.store->VisibleHead();
  REQUIRE(head == 3);

  f.Reopen();
  Store& s = *f.store;
  CHECK(s.VisibleHead() == head);
  CHECK(Must(s.GetOrg("oA")).name == "Org A");

  core::Thread back = Must(s.GetThread("oA", t.id));
  CHECK(back.title == t.title);
  CHECK(back.tags == t.tags);
  CHECK(back.status == ThreadStatus::kAnswered);
  CHECK(back.kind == ThreadKind::kTip);
  CHECK(back.author_id == "alice");
  CHECK(back.deal.account == std::optional<std::string>("ACME"));
  CHECK(back.deal.needed_by == std::optional<std::string>("2026-12-01"));
  CHECK(back.deal.deal_value == std::optional<double>(12500.5));
  CHECK(back.accepted_answer_id == std::optional<std::string>("a1"));
  REQUIRE(back.answers.size() == 1);
  CHECK(back.answers[0].score == 3);
  CHECK(back.answers[0].author_id == "bob");
  CHECK(core::ToUnixMillis(back.created_at) == core::ToUnixMillis(t.created_at));

  using Counts = std::map<std::string, std::int64_t>;
  CHECK(AllTags(s, "oA") == Counts{{"emea", 1}, {"pricing", 2}});
  CHECK(Seqs(Must(s.ReadChangeLog(0, 100))) == std::vector<std::uint64_t>{1, 2, 3});
  CHECK(Ids(Must(s.ListThreads("oA", ThreadFilter{}, std::nullopt, 10)).items).size() == 2);

  // New commits continue after the persisted head, and merges continue from persisted counts.
  core::Thread retagged = back;
  retagged.tags = {"emea"};
  Mutation m;
  m.PutThread(retagged, &back);
  m.AddEvent(MakeEvent(EventType::kThreadEdited, "oA", t.id));
  CHECK(Must(s.Commit(std::move(m))) == head + 1);
  CHECK(AllTags(s, "oA") == Counts{{"emea", 1}, {"pricing", 1}});

  f.Reopen();
  CHECK(f.store->VisibleHead() == head + 1);
  CHECK(AllTags(*f.store, "oA") == Counts{{"emea", 1}, {"pricing", 1}});
}

TEST_CASE("Lookups are scoped by org and report kNotFound") {
  StoreFixture f;
  Store& s = *f.store;
  core::Thread t = MakeThread("oA", 1);
  PutNew(s, t);
  CHECK(Must(s.GetThread("oA", t.id)).id == t.id);
  CHECK(MustFail(s.GetThread("oB", t.id)).code == core::ErrorCode::kNotFound);
  CHECK(MustFail(s.GetThread("oA", "t-missing")).code == core::ErrorCode::kNotFound);
  CHECK(MustFail(s.GetOrg("nope")).code == core::ErrorCode::kNotFound);
  CHECK(MustFail(s.GetUser("oA", "nope")).code == core::ErrorCode::kNotFound);

  Mutation m;
  m.PutAnswerLocator("oA", "a1", t.id);
  m.PutVote("oA", "a1", "u2", -1);
  (void)Must(s.Commit(std::move(m)));
  CHECK(Must(s.FindAnswerThread("oA", "a1")) == t.id);
  CHECK(MustFail(s.FindAnswerThread("oB", "a1")).code == core::ErrorCode::kNotFound);
  CHECK(Must(s.GetVote("oA", "a1", "u2")) == -1);
  CHECK(Must(s.GetVote("oB", "a1", "u2")) == 0);
  CHECK(Must(s.GetVote("oA", "a1", "u3")) == 0);

  Mutation withdraw;
  withdraw.PutVote("oA", "a1", "u2", 0);
  (void)Must(s.Commit(std::move(withdraw)));
  CHECK(Must(s.GetVote("oA", "a1", "u2")) == 0);
}

TEST_CASE("FindTokenBySecretHash finds tokens by the hash of their secret") {
  StoreFixture f;
  Store& s = *f.store;
  const std::string secret = core::NewTokenSecret();
  core::Token tok;
  tok.id = "k1";
  tok.org_id = "oA";
  tok.user_id = "u1";
  tok.name = "laptop";
  tok.prefix = secret.substr(0, 12);
  tok.secret_sha256 = core::Sha256Hex(secret);
  tok.created_at = core::FromUnixMillis(kT0);
  {
    Mutation m;
    m.PutToken(tok);
    (void)Must(s.Commit(std::move(m)));
  }

  core::Token found = Must(s.FindTokenBySecretHash(core::Sha256Hex(secret)));
  CHECK(found.id == "k1");
  CHECK(found.org_id == "oA");
  CHECK(found.user_id == "u1");
  CHECK(found.prefix == tok.prefix);
  CHECK_FALSE(found.revoked_at.has_value());

  CHECK(MustFail(s.FindTokenBySecretHash(core::Sha256Hex(core::NewTokenSecret()))).code ==
        core::ErrorCode::kNotFound);
  CHECK(MustFail(s.FindTokenBySecretHash(secret)).code == core::ErrorCode::kNotFound);  // the secret is not a key
  CHECK(MustFail(s.FindTokenBySecretHash("")).code == core::ErrorCode::kNotFound);

  auto listed = Must(s.ListTokens("oA", "u1"));
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].id == "k1");
  CHECK(Must(s.ListTokens("oA", "u2")).empty());
  CHECK(Must(s.ListTokens("oB", "u1")).empty());

  // Revocation is visible through the hash lookup.
  tok.revoked_at = core::FromUnixMillis(kT0 + 1000);
  {
    Mutation m;
    m.PutToken(tok);
    (void)Must(s.Commit(std::move(m)));
  }
  core::Token revoked = Must(s.FindTokenBySecretHash(core::Sha256Hex(secret)));
  REQUIRE(revoked.revoked_at.has_value());
  CHECK(core::ToUnixMillis(*revoked.revoked_at) == kT0 + 1000);
}

TEST_SUITE_END();

}  // namespace
}  // namespace streetwise::storage
