#include "service/insights_service.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>

#include "service/account_service.hpp"
#include "service/thread_service.hpp"
#include "storage/keys.hpp"
#include "storage/store.hpp"
#include "unit/support/test_support.hpp"

namespace streetwise::service {
namespace {
TEST_SUITE_BEGIN("service");
using testing::Must;
using namespace std::chrono_literals;

constexpr std::int64_t kMonday0759 = 1'795'420'740'000;  // 2026-11-23T07:59:00Z, a Monday

struct InsightsFixture {
  testing::TempDir dir;
  testing::FakeClock clock{kMonday0759};
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<AccountService> accounts;
  std::unique_ptr<ThreadService> threads;
  std::unique_ptr<InsightsService> insights;
  Caller admin, analyst, alice, bob;

  InsightsFixture() {
    storage::StoreOptions options;
    options.durability = storage::Durability::kOs;
    options.block_cache_bytes = 8u << 20;
    store = Must(storage::Store::Open(dir.path() / "db", options));
    accounts = std::make_unique<AccountService>(*store, clock);
    threads = std::make_unique<ThreadService>(*store, clock);
    auto org = Must(accounts->CreateOrg("Acme", "Ada Admin", std::nullopt));
    admin = Must(accounts->Authenticate(org.value.token.secret));
    analyst = NewUser("ann", core::Role::kAnalyst);
    alice = NewUser("alice", core::Role::kMember);
    bob = NewUser("bob", core::Role::kExpert);
    StartInsights();
  }

  void StartInsights() {
    insights = std::make_unique<InsightsService>(*store, clock);
    insights->Start();
  }

  Caller NewUser(const std::string& name, core::Role role) {
    auto user = Must(accounts->CreateUser(admin, NewUserInput{name, std::nullopt, role}));
    auto token = Must(accounts->IssueToken(admin, user.value.id, name + "'s token"));
    return Must(accounts->Authenticate(token.value.secret));
  }

  core::Thread Create(std::vector<std::string> tags, std::optional<std::string> region = std::nullopt) {
    NewThreadInput in;
    in.title = "Can we promise 48-hour delivery?";
    in.body = "Customer asks.";
    in.tags = std::move(tags);
    in.deal.region = std::move(region);
    return Must(threads->Create(alice, in, std::nullopt)).value;
  }

  InsightsSummary Summary(std::optional<std::string> tag = std::nullopt) {
    REQUIRE(insights->WaitForSeq(store->VisibleHead(), 5s));
    auto now = clock.Now();
    return Must(insights->Summary(analyst, SummaryQuery{{now - 24h, now}, std::move(tag), std::nullopt, 3600, 10}));
  }

  int DigestsInOutbox() {
    int n = 0;
    (void)store->ScanRaw(storage::keys::kCfOutbox, "", std::nullopt, [&](std::string_view, std::string_view v) {
      if (v.find("insights.digest") != std::string_view::npos) ++n;
      return true;
    });
    return n;
  }
};

TEST_CASE("rollups follow answers, retags and deletes, and survive a restart") {
  InsightsFixture f;
  auto t1 = f.Create({"pricing"}, "EMEA");
  auto t2 = f.Create({"pricing", "oracle"});
  f.clock.Advance(90s);
  Must(f.threads->AddAnswer(f.bob, t1.id, "Yes."));
  auto s = f.Summary();
  CHECK(s.overall.threads == 2);
  CHECK(s.overall.unanswered == 1);
  CHECK(s.overall.first_answer.count == 1);
  CHECK(s.overall.first_answer.p50_seconds.value_or(0) >= 89);
  CHECK(s.overall.first_answer.p50_seconds.value_or(0) <= 92);
  CHECK(s.by_region.size() == 1);
  CHECK(s.oldest_unanswered.size() == 1);
  CHECK(s.oldest_unanswered[0].id == t2.id);

  // Retag t2: pricing+oracle -> sso. The oracle slice empties, sso gains it.
  ThreadPatchInput patch;
  patch.tags = std::vector<std::string>{"sso"};
  Must(f.threads->Patch(f.alice, t2.id, patch, t2.version));
  CHECK(f.Summary("oracle").overall.threads == 0);
  CHECK(f.Summary("sso").overall.threads == 1);
  CHECK(f.Summary("pricing").overall.threads == 1);

  // Delete the answered one: it leaves every figure.
  Must(f.threads->Delete(f.admin, t1.id));
  s = f.Summary();
  CHECK(s.overall.threads == 1);
  CHECK(s.overall.first_answer.count == 0);
  CHECK(s.by_region.empty());

  // A restart resumes from the persisted position without counting anything twice.
  f.insights->Stop();
  f.StartInsights();
  CHECK(f.Summary().overall.threads == 1);
  CHECK(f.Summary("sso").overall.unanswered == 1);
}

TEST_CASE("members cannot read insights; analysts can") {
  InsightsFixture f;
  auto now = f.clock.Now();
  SummaryQuery q{{now - 24h, now}, std::nullopt, std::nullopt, 3600, 10};
  CHECK(f.insights->Summary(f.alice, q).error().code == core::ErrorCode::kForbidden);
  CHECK(f.insights->Experts(f.bob, ExpertsQuery{{now - 24h, now}, std::nullopt}).error().code ==
        core::ErrorCode::kForbidden);
  CHECK(f.insights->Summary(f.analyst, q).ok());
  CHECK(f.insights->PutDigestSubscription(f.alice, true).error().code == core::ErrorCode::kForbidden);
}

TEST_CASE("the weekly digest goes out once per week, at or after Monday 08:00 UTC") {
  InsightsFixture f;
  f.insights->Stop();  // drive the schedule by hand
  Must(f.insights->PutDigestSubscription(f.analyst, true));
  CHECK(f.insights->RunWeeklyDigests() == 0);  // 07:59: not yet
  f.clock.Advance(2min);
  CHECK(f.insights->RunWeeklyDigests() == 1);
  CHECK(f.DigestsInOutbox() == 1);
  CHECK(Must(f.insights->GetDigestSubscription(f.analyst)).last_sent_week == std::optional<std::string>("2026-11-23"));
  f.clock.Advance(3h);
  CHECK(f.insights->RunWeeklyDigests() == 0);  // same week: never twice
  f.clock.Advance(24h * 7);
  CHECK(f.insights->RunWeeklyDigests() == 1);  // next week
  Must(f.insights->PutDigestSubscription(f.analyst, false));
  f.clock.Advance(24h * 7);
  CHECK(f.insights->RunWeeklyDigests() == 0);  // unsubscribed
  CHECK(f.DigestsInOutbox() == 2);
  // On demand: admins only, to current subscribers.
  CHECK(f.insights->SendDigestNow(f.analyst).error().code == core::ErrorCode::kForbidden);
  Must(f.insights->PutDigestSubscription(f.admin, true));
  CHECK(Must(f.insights->SendDigestNow(f.admin)).value == 1);
}

TEST_SUITE_END();
}  // namespace
}  // namespace streetwise::service
