#include "service/thread_service.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/crypto.hpp"
#include "core/validation.hpp"
#include "service/account_service.hpp"
#include "storage/store.hpp"
#include "unit/support/test_support.hpp"

namespace streetwise::service {
namespace {
TEST_SUITE_BEGIN("service");
using core::ErrorCode;
using core::EventType;
using core::ThreadStatus;
using testing::Must;
using testing::MustFail;
using namespace std::chrono_literals;

// A real store in a temp dir, both services over it, a fake clock, and one org with an admin and
// three members (alice asks, bob and carol answer).
struct ServiceFixture {
  testing::TempDir dir;
  testing::FakeClock clock;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<AccountService> accounts;
  std::unique_ptr<ThreadService> threads;
  Caller admin, alice, bob, carol;

  ServiceFixture() {
    storage::StoreOptions options;
    options.durability = storage::Durability::kOs;
    options.block_cache_bytes = 8u << 20;
    store = Must(storage::Store::Open(dir.path() / "db", options));
    accounts = std::make_unique<AccountService>(*store, clock);
    threads = std::make_unique<ThreadService>(*store, clock);
    auto org = Must(accounts->CreateOrg("Acme", "Ada Admin", std::nullopt));
    admin = Must(accounts->Authenticate(org.value.token.secret));
    alice = NewUser("alice");
    bob = NewUser("bob", core::Role::kExpert);
    carol = NewUser("carol");
  }

  Caller NewUser(const std::string& name, core::Role role = core::Role::kMember) {
    clock.Advance(1ms);
    auto user = Must(accounts->CreateUser(admin, NewUserInput{name, std::nullopt, role}));
    auto token = Must(accounts->IssueToken(admin, user.value.id, name + "'s token"));
    return Must(accounts->Authenticate(token.value.secret));
  }

  core::Thread Create(const Caller& who, const std::string& title = "How do we price EMEA renewals?",
                      std::vector<std::string> tags = {"pricing"}) {
    clock.Advance(1ms);
    NewThreadInput in;
    in.title = title;
    in.body = "We have a **renewal** coming up.";
    in.tags = std::move(tags);
    return Must(threads->Create(who, in, std::nullopt)).value;
  }

  core::Answer Reply(const Caller& who, const core::Thread& t, const std::string& body = "Use the EMEA price book.") {
    clock.Advance(1ms);
    return Must(threads->AddAnswer(who, t.id, body)).value;
  }

  core::Thread Get(const core::Thread& t) { return Must(threads->Get(admin, t.id)); }

  std::vector<EventType> EventTypesAfter(std::uint64_t seq) {
    std::vector<EventType> out;
    for (const auto& e : Must(store->ReadChangeLog(seq, 1000))) out.push_back(e.type);
    return out;
  }

  std::map<std::string, std::int64_t> TagCounts(const Caller& who) {
    std::map<std::string, std::int64_t> out;
    for (const auto& tc : Must(threads->Tags(who, std::nullopt, 1000)).items) out[tc.tag] = tc.count;
    return out;
  }
};

std::string FieldPointer(const core::Error& e) { return e.fields.empty() ? std::string() : e.fields[0].pointer; }

TEST_CASE_FIXTURE(ServiceFixture, "Create validates and normalises title, body, tags and deal") {
  const std::uint64_t head = store->VisibleHead();
  NewThreadInput good;
  good.title = "Pricing question";
  good.tags = {"pricing"};

  auto rejected = [&](NewThreadInput in) { return MustFail(threads->Create(alice, in, std::nullopt)); };
  {
    NewThreadInput in = good;
    in.title = "   ";
    auto e = rejected(in);
    CHECK(e.code == ErrorCode::kInvalidArgument);
    CHECK(FieldPointer(e) == "#/title");
  }
  {
    NewThreadInput in = good;
    in.title = std::string(core::kMaxTitleChars + 1, 'x');
    CHECK(rejected(in).code == ErrorCode::kInvalidArgument);
  }
  {
    NewThreadInput in = good;
    in.tags = {"ok", "not ok!"};
    auto e = rejected(in);
    CHECK(e.code == ErrorCode::kInvalidArgument);
    CHECK(FieldPointer(e) == "#/tags/1");
  }
  {
    NewThreadInput in = good;
    in.tags.clear();
    for (int i = 0; i < 11; ++i) in.tags.push_back("t" + std::to_string(i));
    auto e = rejected(in);
    CHECK(e.code == ErrorCode::kInvalidArgument);
    CHECK(FieldPointer(e) == "#/tags");
  }
  {
    NewThreadInput in = good;
    in.body = std::string(core::kMaxBodyBytes + 1, 'b');
    CHECK(rejected(in).code == ErrorCode::kInvalidArgument);
  }
  {
    NewThreadInput in = good;
    in.deal.needed_by = "2026-02-30";
    auto e = rejected(in);
    CHECK(e.code == ErrorCode::kInvalidArgument);
    CHECK(FieldPointer(e) == "#/needed_by");
  }
  {
    NewThreadInput in = good;
    in.deal.deal_value = -1.0;
    CHECK(rejected(in).code == ErrorCode::kInvalidArgument);
  }
  // Nothing was written by any of the rejected requests.
  CHECK(store->VisibleHead() == head);
  CHECK(Must(threads->List(alice, storage::ThreadFilter{}, std::nullopt, 10)).items.empty());
  CHECK(TagCounts(alice).empty());

  clock.Advance(5ms);
  NewThreadInput in;
  in.title = "  How do we price EMEA renewals?  ";
  in.body = "We have a **renewal** coming up.";
  in.tags = {"EMEA", "Sales  Ops", "emea"};
  in.kind = core::ThreadKind::kFeatureRequest;
  in.deal.needed_by = "2028-02-29";
  auto written = Must(threads->Create(alice, in, std::nullopt));
  const core::Thread& t = written.value;
  CHECK(t.title == "How do we price EMEA renewals?");
  CHECK(t.tags == std::vector<std::string>{"emea", "sales-ops"});
  CHECK(t.status == ThreadStatus::kOpen);
  CHECK(t.kind == core::ThreadKind::kFeatureRequest);
  CHECK(t.author_id == alice.user.id);
  CHECK(t.org_id == alice.org_id());
  CHECK(t.version == 1);
  CHECK(t.revision == 1);
  CHECK(core::ToUnixMillis(t.created_at) == core::ToUnixMillis(clock.Now()));
  CHECK(t.body_html.find("<strong>renewal</strong>") != std::string::npos);
  CHECK(written.seq == head + 1);
  CHECK(store->VisibleHead() == head + 1);
  CHECK(EventTypesAfter(head) == std::vector<EventType>{EventType::kThreadCreated});

  core::Thread stored = Get(t);
  CHECK(stored.title == t.title);
  CHECK(stored.tags == t.tags);
  CHECK(stored.deal.needed_by == std::optional<std::string>("2028-02-29"));
  CHECK(TagCounts(alice) == std::map<std::string, std::int64_t>{{"emea", 1}, {"sales-ops", 1}});
  CHECK(Must(threads->Revisions(alice, t.id)).size() == 1);
}

TEST_CASE_FIXTURE(ServiceFixture, "Answering moves open -> answered, accepting resolves, withdrawing goes back") {
  core::Thread t = Create(alice);
  CHECK(Get(t).status == ThreadStatus::kOpen);

  std::uint64_t before_answer = store->VisibleHead();
  core::Answer a1 = Reply(bob, t);
  CHECK(a1.author_id == bob.user.id);
  CHECK(a1.thread_id == t.id);
  core::Thread answered = Get(t);
  CHECK(answered.status == ThreadStatus::kAnswered);
  CHECK(answered.version == 2);
  REQUIRE(answered.answers.size() == 1);
  CHECK(answered.answers[0].id == a1.id);
  CHECK(EventTypesAfter(before_answer) ==
        std::vector<EventType>{EventType::kAnswerCreated, EventType::kThreadStatusChanged});

  // A second answer leaves the status alone and emits no status change.
  std::uint64_t before_second = store->VisibleHead();
  core::Answer a2 = Reply(carol, t);
  CHECK(Get(t).status == ThreadStatus::kAnswered);
  CHECK(EventTypesAfter(before_second) == std::vector<EventType>{EventType::kAnswerCreated});

  clock.Advance(1ms);
  auto resolved = Must(threads->Accept(alice, t.id, a1.id)).value;
  CHECK(resolved.status == ThreadStatus::kResolved);
  CHECK(resolved.accepted_answer_id == std::optional<std::string>(a1.id));
  CHECK(Get(t).status == ThreadStatus::kResolved);

  auto switched = Must(threads->Accept(alice, t.id, a2.id)).value;
  CHECK(switched.status == ThreadStatus::kResolved);
  CHECK(switched.accepted_answer_id == std::optional<std::string>(a2.id));

  auto withdrawn = Must(threads->Accept(alice, t.id, std::nullopt)).value;
  CHECK(withdrawn.status == ThreadStatus::kAnswered);
  CHECK_FALSE(withdrawn.accepted_answer_id.has_value());
  core::Thread stored = Get(t);
  CHECK(stored.status == ThreadStatus::kAnswered);
  CHECK_FALSE(stored.accepted_answer_id.has_value());

  // The list index follows the status.
  storage::ThreadFilter answered_only;
  answered_only.status = ThreadStatus::kAnswered;
  CHECK(Must(threads->List(alice, answered_only, std::nullopt, 10)).items.size() == 1);

  auto bad = MustFail(threads->Accept(alice, t.id, std::string("a-not-in-this-thread")));
  CHECK(bad.code == ErrorCode::kInvalidArgument);
  CHECK(MustFail(threads->AddAnswer(bob, t.id, "  \n ")).code == ErrorCode::kInvalidArgument);
}

TEST_CASE_FIXTURE(ServiceFixture, "Only the author or an admin may accept or edit") {
  core::Thread t = Create(alice);
  core::Answer a = Reply(bob, t);
  const core::Thread before = Get(t);
  const std::uint64_t head = store->VisibleHead();

  CHECK(MustFail(threads->Accept(bob, t.id, a.id)).code == ErrorCode::kForbidden);    // answer's author
  CHECK(MustFail(threads->Accept(carol, t.id, a.id)).code == ErrorCode::kForbidden);  // bystander
  ThreadPatchInput retitle;
  retitle.title = "Hijacked";
  CHECK(MustFail(threads->Patch(bob, t.id, retitle, before.version)).code == ErrorCode::kForbidden);
  ThreadPatchInput retag;
  retag.tags = std::vector<std::string>{"spam"};
  CHECK(MustFail(threads->Patch(carol, t.id, retag, before.version)).code == ErrorCode::kForbidden);
  ThreadPatchInput close;
  close.status = ThreadStatus::kClosed;
  CHECK(MustFail(threads->Patch(alice, t.id, close, before.version)).code == ErrorCode::kForbidden);  // not admin

  core::Thread unchanged = Get(t);
  CHECK(unchanged.version == before.version);
  CHECK(unchanged.title == before.title);
  CHECK(unchanged.tags == before.tags);
  CHECK_FALSE(unchanged.accepted_answer_id.has_value());
  CHECK(store->VisibleHead() == head);

  clock.Advance(1ms);
  auto by_admin = Must(threads->Patch(admin, t.id, retitle, before.version)).value;
  CHECK(by_admin.title == "Hijacked");
  ThreadPatchInput body;
  body.body = "Clarified body";
  auto by_author = Must(threads->Patch(alice, t.id, body, by_admin.version)).value;
  CHECK(by_author.body == "Clarified body");
  CHECK(Must(threads->Accept(admin, t.id, a.id)).value.status == ThreadStatus::kResolved);
}

TEST_CASE_FIXTURE(ServiceFixture, "A stale expected_version is kPreconditionFailed and changes nothing") {
  core::Thread t = Create(alice, "Original title", {"pricing"});
  clock.Advance(1ms);
  ThreadPatchInput first;
  first.title = "Second title";
  auto v2 = Must(threads->Patch(alice, t.id, first, 1)).value;
  CHECK(v2.version == 2);

  const std::uint64_t head = store->VisibleHead();
  ThreadPatchInput stale;
  stale.title = "Lost update";
  stale.body = "Lost body";
  stale.tags = std::vector<std::string>{"lost"};
  for (std::int64_t expected : {std::int64_t{1}, std::int64_t{3}, std::int64_t{0}}) {
    CAPTURE(expected);
    auto e = MustFail(threads->Patch(alice, t.id, stale, expected));
    CHECK(e.code == ErrorCode::kPreconditionFailed);
  }
  ThreadPatchInput stale_close;
  stale_close.status = ThreadStatus::kClosed;
  CHECK(MustFail(threads->Patch(admin, t.id, stale_close, 1)).code == ErrorCode::kPreconditionFailed);

  core::Thread now = Get(t);
  CHECK(now.version == 2);
  CHECK(now.title == "Second title");
  CHECK(now.body == t.body);
  CHECK(now.tags == std::vector<std::string>{"pricing"});
  CHECK(now.status == ThreadStatus::kOpen);
  CHECK(Must(threads->Revisions(alice, t.id)).size() == 2);
  CHECK(store->VisibleHead() == head);
  CHECK(TagCounts(alice) == std::map<std::string, std::int64_t>{{"pricing", 1}});
}

TEST_CASE_FIXTURE(ServiceFixture, "Edits record revisions; a no-op edit records nothing") {
  core::Thread t = Create(alice, "Title A", {"x"});
  clock.Advance(1ms);
  ThreadPatchInput p1;
  p1.title = "Title B";
  auto v2 = Must(threads->Patch(alice, t.id, p1, 1)).value;
  CHECK(v2.revision == 2);

  clock.Advance(1ms);
  ThreadPatchInput p2;
  p2.tags = std::vector<std::string>{"Y"};
  p2.body = "New body";
  auto v3 = Must(threads->Patch(admin, t.id, p2, v2.version)).value;
  CHECK(v3.revision == 3);
  CHECK(v3.tags == std::vector<std::string>{"y"});
  CHECK(v3.body_html.find("New body") != std::string::npos);

  // Same values again (after normalisation): no new revision, version or event.
  const std::uint64_t head = store->VisibleHead();
  ThreadPatchInput same;
  same.title = "  Title B ";
  same.tags = std::vector<std::string>{"y"};
  auto noop = Must(threads->Patch(alice, t.id, same, v3.version)).value;
  CHECK(noop.version == v3.version);
  CHECK(noop.revision == 3);
  CHECK(store->VisibleHead() == head);

  auto revs = Must(threads->Revisions(alice, t.id));
  REQUIRE(revs.size() == 3);
  CHECK(revs[0].revision == 1);
  CHECK(revs[1].revision == 2);
  CHECK(revs[2].revision == 3);
  CHECK(revs[0].title == "Title A");
  CHECK(revs[1].title == "Title B");
  CHECK(revs[2].title == "Title B");
  CHECK(revs[0].tags == std::vector<std::string>{"x"});
  CHECK(revs[1].tags == std::vector<std::string>{"x"});
  CHECK(revs[2].tags == std::vector<std::string>{"y"});
  CHECK(revs[2].body == "New body");
  CHECK(revs[0].editor_id == alice.user.id);
  CHECK(revs[1].editor_id == alice.user.id);
  CHECK(revs[2].editor_id == admin.user.id);
  CHECK(core::ToUnixMillis(revs[0].created_at) < core::ToUnixMillis(revs[2].created_at));

  CHECK(TagCounts(alice) == std::map<std::string, std::int64_t>{{"y", 1}});
}

TEST_CASE_FIXTURE(ServiceFixture, "One vote per user and answer; changing a vote adjusts the score") {
  core::Thread t = Create(alice);
  core::Answer a = Reply(bob, t);
  auto score = [&] {
    core::Thread now = Get(t);
    REQUIRE(now.answers.size() == 1);
    return now.answers[0].score;
  };

  CHECK(Must(threads->Vote(carol, a.id, 1)).value.score == 1);
  const std::uint64_t head = store->VisibleHead();
  CHECK(Must(threads->Vote(carol, a.id, 1)).value.score == 1);  // the same vote again counts once
  CHECK(store->VisibleHead() == head);
  CHECK(score() == 1);

  CHECK(Must(threads->Vote(carol, a.id, -1)).value.score == -1);  // +1 -> -1 moves the score by 2
  CHECK(Must(threads->Vote(admin, a.id, 1)).value.score == 0);
  CHECK(Must(threads->Vote(carol, a.id, 0)).value.score == 1);    // withdrawn
  CHECK(Must(threads->Vote(alice, a.id, 1)).value.score == 2);
  CHECK(score() == 2);

  CHECK(MustFail(threads->Vote(bob, a.id, 1)).code == ErrorCode::kForbidden);  // own answer
  CHECK(MustFail(threads->Vote(carol, a.id, 2)).code == ErrorCode::kInvalidArgument);
  CHECK(MustFail(threads->Vote(carol, a.id, -2)).code == ErrorCode::kInvalidArgument);
  CHECK(MustFail(threads->Vote(carol, "a-missing", 1)).code == ErrorCode::kNotFound);
  CHECK(score() == 2);
}

TEST_CASE_FIXTURE(ServiceFixture, "A closed thread rejects answers, comments and acceptance with kConflict") {
  core::Thread t = Create(alice);
  core::Answer a = Reply(bob, t);
  clock.Advance(1ms);
  ThreadPatchInput close;
  close.status = ThreadStatus::kClosed;
  auto closed = Must(threads->Patch(admin, t.id, close, Get(t).version)).value;
  CHECK(closed.status == ThreadStatus::kClosed);
  CHECK(Get(t).status == ThreadStatus::kClosed);

  const std::uint64_t head = store->VisibleHead();
  CHECK(MustFail(threads->AddAnswer(carol, t.id, "late answer")).code == ErrorCode::kConflict);
  CHECK(MustFail(threads->AddComment(carol, t.id, "late comment", std::nullopt)).code == ErrorCode::kConflict);
  CHECK(MustFail(threads->Accept(alice, t.id, a.id)).code == ErrorCode::kConflict);
  CHECK(store->VisibleHead() == head);
  CHECK(Get(t).answers.size() == 1);
  CHECK(Get(t).version == closed.version);

  ThreadPatchInput bad_status;
  bad_status.status = ThreadStatus::kResolved;
  CHECK(MustFail(threads->Patch(admin, t.id, bad_status, closed.version)).code == ErrorCode::kInvalidArgument);

  // Reopening goes to the status the answers imply, and contributions work again.
  ThreadPatchInput reopen;
  reopen.status = ThreadStatus::kOpen;
  auto reopened = Must(threads->Patch(admin, t.id, reopen, closed.version)).value;
  CHECK(reopened.status == ThreadStatus::kAnswered);
  core::Answer late = Reply(carol, t);
  CHECK(Get(t).answers.size() == 2);
  CHECK(Must(threads->Accept(alice, t.id, late.id)).value.status == ThreadStatus::kResolved);
}

TEST_CASE_FIXTURE(ServiceFixture, "Another organisation's thread is kNotFound") {
  core::Thread t = Create(alice, "Internal pricing", {"secret"});
  core::Answer a = Reply(bob, t);
  const core::Thread before = Get(t);

  auto other_org = Must(accounts->CreateOrg("Rival", "Rita", std::nullopt));
  Caller rival = Must(accounts->Authenticate(other_org.value.token.secret));
  REQUIRE(rival.org_id() != alice.org_id());
  REQUIRE(rival.user.role == core::Role::kAdmin);  // even an admin of the other org

  CHECK(MustFail(threads->Get(rival, t.id)).code == ErrorCode::kNotFound);
  CHECK(MustFail(threads->Revisions(rival, t.id)).code == ErrorCode::kNotFound);
  CHECK(MustFail(threads->AddAnswer(rival, t.id, "hi")).code == ErrorCode::kNotFound);
  CHECK(MustFail(threads->AddComment(rival, t.id, "hi", std::nullopt)).code == ErrorCode::kNotFound);
  CHECK(MustFail(threads->Accept(rival, t.id, a.id)).code == ErrorCode::kNotFound);
  ThreadPatchInput p;
  p.title = "pwned";
  CHECK(MustFail(threads->Patch(rival, t.id, p, before.version)).code == ErrorCode::kNotFound);
  CHECK(MustFail(threads->Vote(rival, a.id, 1)).code == ErrorCode::kNotFound);
  CHECK(Must(threads->List(rival, storage::ThreadFilter{}, std::nullopt, 10)).items.empty());
  CHECK(TagCounts(rival).empty());
  for (const auto& e : Must(threads->Events(rival, 0, 1000))) CHECK(e.org_id == rival.org_id());

  core::Thread after = Get(t);
  CHECK(after.version == before.version);
  CHECK(after.title == before.title);
  CHECK(after.answers[0].score == 0);
}

// Renderers for GetRendered: "<id> v<version> <answers> <comments> <title>", counting their calls.
int g_renders = 0;
std::string RenderCounted(const core::Thread& t) {
  ++g_renders;
  return t.id + " v" + std::to_string(t.version) + " " + std::to_string(t.answers.size()) + " " +
         std::to_string(t.comments.size()) + " " + t.title;
}
std::string RenderOther(const core::Thread& t) { return "other " + t.id; }

TEST_CASE_FIXTURE(ServiceFixture, "GetRendered memoises a thread's rendering until the thread changes") {
  core::Thread t = Create(alice, "Renewal pricing");
  g_renders = 0;
  auto first = Must(threads->GetRendered(alice, t.id, &RenderCounted));
  CHECK(first->version == 1);
  CHECK(first->body == t.id + " v1 0 0 Renewal pricing");
  auto again = Must(threads->GetRendered(bob, t.id, &RenderCounted));  // any caller of the org
  CHECK(again == first);
  CHECK(g_renders == 1);

  // Every mutation bumps the version and drops the memo after committing.
  core::Answer a = Reply(bob, t);
  auto answered = Must(threads->GetRendered(alice, t.id, &RenderCounted));
  CHECK(answered->version == 2);
  CHECK(answered->body == t.id + " v2 1 0 Renewal pricing");
  Must(threads->AddComment(carol, t.id, "Which region?", std::nullopt));
  CHECK(Must(threads->GetRendered(alice, t.id, &RenderCounted))->body == t.id + " v3 1 1 Renewal pricing");
  Must(threads->Vote(carol, a.id, 1));
  CHECK(Must(threads->GetRendered(alice, t.id, &RenderCounted))->version == 4);
  Must(threads->Accept(alice, t.id, a.id));
  CHECK(Must(threads->GetRendered(alice, t.id, &RenderCounted))->version == 5);
  ThreadPatchInput p;
  p.title = "Renewal pricing in EMEA";
  Must(threads->Patch(alice, t.id, p, 5));
  auto edited = Must(threads->GetRendered(alice, t.id, &RenderCounted));
  CHECK(edited->body == t.id + " v6 1 1 Renewal pricing in EMEA");
  CHECK(g_renders == 6);
  // Get (which fills the decoded-thread cache) and GetRendered agree afterwards too.
  CHECK(Get(t).version == 6);
  CHECK(Must(threads->GetRendered(alice, t.id, &RenderCounted)) == edited);
  CHECK(g_renders == 6);

  // A delete evicts: the thread is gone, not served from the memo.
  Must(threads->Delete(alice, t.id));
  CHECK(MustFail(threads->GetRendered(alice, t.id, &RenderCounted)).code == ErrorCode::kNotFound);
  CHECK(MustFail(threads->Get(alice, t.id)).code == ErrorCode::kNotFound);
}

TEST_CASE_FIXTURE(ServiceFixture, "GetRendered is per organisation and per renderer") {
  core::Thread t = Create(alice, "Internal pricing", {"secret"});
  auto ours = Must(threads->GetRendered(alice, t.id, &RenderCounted));  // memoised for alice's org
  auto other_org = Must(accounts->CreateOrg("Rival", "Rita", std::nullopt));
  Caller rival = Must(accounts->Authenticate(other_org.value.token.secret));
  REQUIRE(rival.org_id() != alice.org_id());
  g_renders = 0;
  CHECK(MustFail(threads->GetRendered(rival, t.id, &RenderCounted)).code == ErrorCode::kNotFound);
  CHECK(g_renders == 0);
  CHECK(Must(threads->GetRendered(alice, t.id, &RenderCounted)) == ours);

  // Another function than the first one used is rendered afresh, never served another's bodies.
  CHECK(Must(threads->GetRendered(alice, t.id, &RenderOther))->body == "other " + t.id);
  CHECK(Must(threads->GetRendered(alice, t.id, &RenderOther))->body == "other " + t.id);
  CHECK(Must(threads->GetRendered(alice, t.id, &RenderCounted)) == ours);
}

TEST_CASE_FIXTURE(ServiceFixture, "Authenticate rejects malformed, unknown and revoked tokens") {
  auto t1 = Must(accounts->IssueToken(alice, alice.user.id, "laptop")).value;
  auto t2 = Must(accounts->IssueToken(alice, alice.user.id, "phone")).value;
  CHECK(Must(accounts->Authenticate(t1.secret)).user.id == alice.user.id);
  CHECK(Must(accounts->Authenticate(t1.secret)).token_id == t1.token.id);
  CHECK(t1.token.secret_sha256 == core::Sha256Hex(t1.secret));
  CHECK(t1.secret.rfind(t1.token.prefix, 0) == 0);

  // Someone else cannot revoke alice's token, nor can another org see it.
  CHECK(MustFail(accounts->RevokeToken(carol, t1.token.id)).code == ErrorCode::kForbidden);
  auto other_org = Must(accounts->CreateOrg("Rival", "Rita", std::nullopt));
  Caller rival = Must(accounts->Authenticate(other_org.value.token.secret));
  CHECK(MustFail(accounts->RevokeToken(rival, t1.token.id)).code == ErrorCode::kNotFound);
  CHECK(Must(accounts->Authenticate(t1.secret)).user.id == alice.user.id);

  clock.Advance(1ms);
  auto revoked = Must(accounts->RevokeToken(alice, t1.token.id)).value;
  REQUIRE(revoked.revoked_at.has_value());
  CHECK(core::ToUnixMillis(*revoked.revoked_at) == core::ToUnixMillis(clock.Now()));

  CHECK(MustFail(accounts->Authenticate(t1.secret)).code == ErrorCode::kUnauthenticated);
  CHECK(Must(accounts->Authenticate(t2.secret)).user.id == alice.user.id);  // other tokens unaffected

  CHECK(MustFail(accounts->Authenticate("")).code == ErrorCode::kUnauthenticated);
  CHECK(MustFail(accounts->Authenticate("Bearer " + t2.secret)).code == ErrorCode::kUnauthenticated);
  CHECK(MustFail(accounts->Authenticate(core::NewTokenSecret())).code == ErrorCode::kUnauthenticated);
  std::string typo = t2.secret;
  typo[10] = typo[10] == 'a' ? 'b' : 'a';
  CHECK(MustFail(accounts->Authenticate(typo)).code == ErrorCode::kUnauthenticated);

  // Admins may revoke anyone's token in their org.
  CHECK(Must(accounts->RevokeToken(admin, t2.token.id)).value.revoked_at.has_value());
  CHECK(MustFail(accounts->Authenticate(t2.secret)).code == ErrorCode::kUnauthenticated);
}

TEST_CASE_FIXTURE(ServiceFixture, "The event feed is admin-only and scoped to the org") {
  core::Thread t = Create(alice);
  CHECK(MustFail(threads->Events(alice, 0, 100)).code == ErrorCode::kForbidden);
  auto events = Must(threads->Events(admin, 0, 1000));
  REQUIRE_FALSE(events.empty());
  CHECK(events.back().type == EventType::kThreadCreated);
  CHECK(events.back().thread_id == std::optional<std::string>(t.id));
  CHECK(events.back().actor_id == std::optional<std::string>(alice.user.id));
  for (std::size_t i = 1; i < events.size(); ++i) CHECK(events[i - 1].seq < events[i].seq);
}

TEST_CASE("BootstrapIfEmpty persists the secret first, commits once, and its token authenticates") {
  testing::TempDir dir;
  testing::FakeClock clock;
  storage::StoreOptions options;
  options.durability = storage::Durability::kOs;
  options.block_cache_bytes = 8u << 20;
  auto store = Must(storage::Store::Open(dir.path() / "db", options));
  AccountService accounts(*store, clock);

  // If the secret cannot be written down, nothing is committed and a later start tries again.
  std::string lost_secret;
  auto failed = accounts.BootstrapIfEmpty([&](const std::string& secret) {
    lost_secret = secret;
    return false;
  });
  REQUIRE_FALSE(failed.ok());
  CHECK(store->VisibleHead() == 0);
  CHECK_FALSE(lost_secret.empty());
  CHECK(MustFail(accounts.Authenticate(lost_secret)).code == ErrorCode::kUnauthenticated);
  CHECK(MustFail(accounts.DefaultAdmin()).code == ErrorCode::kNotFound);

  std::string persisted;
  auto first = Must(accounts.BootstrapIfEmpty([&](const std::string& secret) {
    persisted = secret;
    return true;
  }));
  REQUIRE(first.has_value());
  CHECK(persisted == first->token.secret);
  Caller admin = Must(accounts.Authenticate(persisted));
  CHECK(admin.user.role == core::Role::kAdmin);
  CHECK(admin.org_id() == first->org.id);
  CHECK(Must(accounts.DefaultAdmin()).user.id == admin.user.id);

  const std::uint64_t head = store->VisibleHead();
  bool called = false;
  auto second = Must(accounts.BootstrapIfEmpty([&](const std::string&) {
    called = true;
    return true;
  }));
  CHECK_FALSE(second.has_value());
  CHECK_FALSE(called);
  CHECK(store->VisibleHead() == head);
}

TEST_SUITE_END();

}  // namespace
}  // namespace streetwise::service
