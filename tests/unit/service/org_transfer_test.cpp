#include "service/org_transfer.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "service/account_service.hpp"
#include "service/thread_service.hpp"
#include "storage/store.hpp"
#include "unit/support/test_support.hpp"

namespace streetwise::service {
namespace {
TEST_SUITE_BEGIN("service");
using core::ErrorCode;
using testing::Must;
using testing::MustFail;
using namespace std::chrono_literals;

// One org with an admin, an expert and a member, and a thread with two answers, a comment, a
// vote, an accepted answer and an edit.
struct TransferFixture {
  testing::TempDir dir;
  testing::FakeClock clock;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<AccountService> accounts;
  std::unique_ptr<ThreadService> threads;
  std::unique_ptr<OrgTransfer> transfer;
  Caller admin, expert, member;
  core::Thread thread;

  TransferFixture() {
    storage::StoreOptions options;
    options.durability = storage::Durability::kOs;
    options.block_cache_bytes = 8u << 20;
    store = Must(storage::Store::Open(dir.path() / "db", options));
    accounts = std::make_unique<AccountService>(*store, clock);
    threads = std::make_unique<ThreadService>(*store, clock);
    transfer = std::make_unique<OrgTransfer>(*store, clock);
    auto org = Must(accounts->CreateOrg("Acme", "Ada Admin", std::string("ada@example.com")));
    admin = Must(accounts->Authenticate(org.value.token.secret));
    expert = NewUser("Eve Expert", core::Role::kExpert);
    member = NewUser("Max Member", core::Role::kMember);

    clock.Advance(1ms);
    NewThreadInput in;
    in.title = "EMEA renewal pricing?";
    in.body = "Which *price book*?";
    in.tags = {"pricing", "emea"};
    in.deal.region = "EMEA";
    in.deal.deal_value = 12500.5;
    auto t = Must(threads->Create(member, in, std::nullopt)).value;
    clock.Advance(1ms);
    auto a1 = Must(threads->AddAnswer(expert, t.id, "Use the 2026 book.")).value;
    clock.Advance(1ms);
    (void)Must(threads->AddAnswer(admin, t.id, "Ask finance."));
    (void)Must(threads->AddComment(member, t.id, "Thanks!", a1.id));
    (void)Must(threads->Vote(member, a1.id, 1));
    (void)Must(threads->Vote(admin, a1.id, 1));
    (void)Must(threads->Accept(member, t.id, a1.id));
    ThreadPatchInput patch;
    patch.title = "EMEA renewal pricing (2026)?";
    auto current = Must(threads->Get(admin, t.id));
    (void)Must(threads->Patch(member, t.id, patch, current.version));
    thread = Must(threads->Get(admin, t.id));
  }

  Caller NewUser(const std::string& name, core::Role role) {
    clock.Advance(1ms);
    auto user = Must(accounts->CreateUser(admin, NewUserInput{name, std::nullopt, role}));
    auto token = Must(accounts->IssueToken(admin, user.value.id, "t"));
    return Must(accounts->Authenticate(token.value.secret));
  }

  std::vector<core::User> Users(const std::string& org) {
    std::vector<core::User> out;
    (void)Must(transfer->ForEachUser(org, [&](const core::User& u) { return out.push_back(u), true; }));
    return out;
  }
  std::vector<ExportedThread> Threads(const std::string& org) {
    std::vector<ExportedThread> out;
    (void)Must(transfer->ForEachThread(org, [&](const ExportedThread& t) { return out.push_back(t), true; }));
    return out;
  }
};

TEST_CASE("OrgTransfer export: users in creation order and threads with revisions and votes") {
  TransferFixture f;
  auto users = f.Users(f.admin.org_id());
  REQUIRE(users.size() == 3);
  CHECK(users[0].name == "Ada Admin");
  CHECK(users[1].name == "Eve Expert");
  CHECK(users[2].name == "Max Member");
  auto exported = f.Threads(f.admin.org_id());
  REQUIRE(exported.size() == 1);
  CHECK(exported[0].thread.id == f.thread.id);
  CHECK(exported[0].revisions.size() == 2);
  REQUIRE(exported[0].votes.count(f.thread.answers[0].id) == 1);
  CHECK(exported[0].votes.at(f.thread.answers[0].id).size() == 2);
}

TEST_CASE("OrgTransfer import: a new org with new ids, same content, authorship mapped, a working token") {
  TransferFixture f;
  auto users = f.Users(f.admin.org_id());
  auto exported = f.Threads(f.admin.org_id());
  f.clock.Advance(1h);
  auto org = Must(f.transfer->CreateOrg("Acme (copy)", users));
  CHECK(org.org.id != f.admin.org_id());
  CHECK(org.user_ids.size() == 3);
  CHECK(org.admin.name == "Ada Admin");
  auto caller = Must(f.accounts->Authenticate(org.token.secret));
  CHECK(caller.org_id() == org.org.id);
  CHECK(caller.user.role == core::Role::kAdmin);

  auto written = Must(f.transfer->ImportThread(org, exported[0])).value;
  const core::Thread& src = f.thread;
  auto t = Must(f.threads->Get(caller, written.id));
  CHECK(t.id != src.id);
  CHECK(t.org_id == org.org.id);
  CHECK(t.title == src.title);
  CHECK(t.body == src.body);
  CHECK(t.body_html == src.body_html);
  CHECK(t.tags == src.tags);
  CHECK(t.status == src.status);
  CHECK(t.version == src.version);
  CHECK(t.revision == src.revision);
  CHECK(t.created_at == src.created_at);
  CHECK(t.deal.region == src.deal.region);
  CHECK(t.deal.deal_value == src.deal.deal_value);
  CHECK(t.author_id == org.user_ids.at(src.author_id));
  REQUIRE(t.answers.size() == 2);
  CHECK(t.answers[0].id != src.answers[0].id);
  CHECK(t.answers[0].author_id == org.user_ids.at(src.answers[0].author_id));
  CHECK(t.answers[0].score == 2);
  CHECK(t.accepted_answer_id == t.answers[0].id);
  REQUIRE(t.comments.size() == 1);
  CHECK(t.comments[0].answer_id == t.answers[0].id);
  // Locators, votes, revisions and tags work in the new org.
  CHECK(Must(f.store->FindAnswerThread(org.org.id, t.answers[0].id)) == t.id);
  CHECK(Must(f.store->GetVote(org.org.id, t.answers[0].id, org.user_ids.at(f.member.user.id))) == 1);
  auto revs = Must(f.threads->Revisions(caller, t.id));
  REQUIRE(revs.size() == 2);
  CHECK(revs[0].editor_id == org.user_ids.at(f.member.user.id));
  CHECK(Must(f.threads->Tags(caller, std::nullopt, 10)).items.size() == 2);
  // Change-log events for the indexer and the org's feed.
  auto events = Must(f.store->ListOrgEvents(org.org.id, 0, 100));
  std::multiset<core::EventType> types;
  for (const auto& e : events) types.insert(e.type);
  CHECK(types.count(core::EventType::kThreadCreated) == 1);
  CHECK(types.count(core::EventType::kAnswerCreated) == 2);
  CHECK(types.count(core::EventType::kCommentCreated) == 1);
  CHECK(types.count(core::EventType::kUserCreated) == 3);
  // The source org is untouched and isolated from the copy.
  CHECK(MustFail(f.threads->Get(f.admin, t.id)).code == ErrorCode::kNotFound);
  CHECK(Must(f.threads->List(f.admin, {}, std::nullopt, 10)).items.size() == 1);
}

TEST_CASE("OrgTransfer::CreateOrg adds an admin when the export has none") {
  TransferFixture f;
  auto users = f.Users(f.admin.org_id());
  users.erase(users.begin());  // drop Ada, the only admin
  auto org = Must(f.transfer->CreateOrg("No admins", users));
  CHECK(org.admin.name == "Administrator");
  CHECK(org.admin.role == core::Role::kAdmin);
  CHECK(org.user_ids.size() == 2);
  CHECK(MustFail(f.transfer->CreateOrg(" ", users)).code == ErrorCode::kInvalidArgument);
  users.push_back(users.front());
  CHECK(MustFail(f.transfer->CreateOrg("Repeated", users)).code == ErrorCode::kInvalidArgument);
}

TEST_CASE("OrgTransfer::CheckThread rejects dangling references") {
  TransferFixture f;
  auto x = f.Threads(f.admin.org_id()).front();
  auto all = [](const std::string&) { return true; };
  (void)Must(OrgTransfer::CheckThread(x, all));
  CHECK(MustFail(OrgTransfer::CheckThread(x, [](const std::string&) { return false; })).code ==
        ErrorCode::kInvalidArgument);
  auto bad = x;
  bad.thread.accepted_answer_id = "a-missing";
  CHECK(MustFail(OrgTransfer::CheckThread(bad, all)).detail.find("accepted answer") != std::string::npos);
  bad = x;
  bad.thread.comments[0].answer_id = "a-missing";
  (void)MustFail(OrgTransfer::CheckThread(bad, all));
  bad = x;
  bad.votes["a-missing"] = {storage::VoteEntry{"u", 1}};
  (void)MustFail(OrgTransfer::CheckThread(bad, all));
  bad = x;
  bad.thread.title = "";
  (void)MustFail(OrgTransfer::CheckThread(bad, all));
  bad = x;
  bad.thread.answers.push_back(bad.thread.answers[0]);  // repeated answer id
  (void)MustFail(OrgTransfer::CheckThread(bad, all));
}

TEST_SUITE_END();
}  // namespace
}  // namespace streetwise::service
