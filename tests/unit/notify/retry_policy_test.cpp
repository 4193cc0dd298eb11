#include "notify/retry_policy.hpp"

#include <doctest/doctest.h>

#include <chrono>

namespace streetwise::notify {
namespace {
TEST_SUITE_BEGIN("notify");
using namespace std::chrono_literals;
using std::chrono::milliseconds;

const core::TimePoint kT0 = core::FromUnixMillis(1'780'000'000'000);

// The schedule without jitter: random01 = 0.5 gives factor 1.0 exactly.
std::vector<milliseconds> Gaps(const RetryPolicy& p, AttemptOutcome outcome = AttemptOutcome::kTransient) {
  std::vector<milliseconds> out;
  core::TimePoint now = kT0;
  for (int attempts = 1;; ++attempts) {
    auto next = NextAttempt(p, attempts, outcome, kT0, now, 0.5);
    if (!next) break;
    out.push_back(std::chrono::duration_cast<milliseconds>(*next - now));
    now = *next;
    REQUIRE(attempts < 100);
  }
  return out;
}

TEST_CASE("the default schedule: 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, 8 h, 8 h, then dead") {
  RetryPolicy p;
  auto gaps = Gaps(p);
  std::vector<milliseconds> want{5s, 30s, 2min, 10min, 30min, 1h, 2h, 4h, 8h, 8h};
  CHECK(gaps == want);
  CHECK(p.MaxAttempts() == 11);
  milliseconds total{0};
  for (auto g : gaps) total += g;
  CHECK(total < 24h);  // the last attempt is within 24 h of the first
}

TEST_CASE("jitter stays within +-20 % and never breaks the 24 h window") {
  RetryPolicy p;
  for (int attempts = 1; attempts < p.MaxAttempts(); ++attempts) {
    auto base = p.delays[static_cast<std::size_t>(attempts - 1)];
    for (double r : {0.0, 0.25, 0.75, 0.999}) {
      auto next = NextAttempt(p, attempts, AttemptOutcome::kTransient, kT0, kT0, r);
      REQUIRE(next);
      auto d = std::chrono::duration_cast<milliseconds>(*next - kT0);
      CHECK(d.count() >= static_cast<std::int64_t>(static_cast<double>(base.count()) * 0.8) - 1);
      CHECK(d.count() <= static_cast<std::int64_t>(static_cast<double>(base.count()) * 1.2) + 1);
    }
  }
  // Worst case: every delay jittered up. The last attempts are clipped to the window.
  core::TimePoint now = kT0;
  int attempts = 1;
  while (auto next = NextAttempt(p, attempts, AttemptOutcome::kTransient, kT0, now, 0.999)) {
    CHECK(*next <= kT0 + 24h);
    CHECK(*next >= now);
    now = *next;
    ++attempts;
  }
  CHECK(attempts <= p.MaxAttempts());
}

TEST_CASE("permanent failures and successes are never retried") {
  RetryPolicy p;
  CHECK_FALSE(NextAttempt(p, 1, AttemptOutcome::kPermanent, kT0, kT0, 0.5));
  CHECK_FALSE(NextAttempt(p, 1, AttemptOutcome::kDelivered, kT0, kT0, 0.5));
}

TEST_CASE("a window that has closed ends the delivery even with attempts left") {
  RetryPolicy p;
  CHECK_FALSE(NextAttempt(p, 2, AttemptOutcome::kTransient, kT0, kT0 + 24h, 0.5));
  auto clipped = NextAttempt(p, 10, AttemptOutcome::kTransient, kT0, kT0 + 23h, 0.5);
  REQUIRE(clipped);
  CHECK(*clipped == kT0 + 24h);
}

TEST_CASE("Retry-After is honoured when it asks for more than the schedule") {
  RetryPolicy p;
  auto next = NextAttempt(p, 1, AttemptOutcome::kTransient, kT0, kT0, 0.5, milliseconds(120'000));
  REQUIRE(next);
  CHECK(*next == kT0 + 2min);
  auto shorter = NextAttempt(p, 3, AttemptOutcome::kTransient, kT0, kT0, 0.5, milliseconds(1000));
  REQUIRE(shorter);
  CHECK(*shorter == kT0 + 2min);  // the schedule's own delay wins
}

TEST_CASE("Scaled keeps the shape and scales the window; max_attempts caps the count") {
  auto p = RetryPolicy::Scaled(50);  // 1/100 of the default
  auto gaps = Gaps(p);
  REQUIRE(gaps.size() == 10);
  CHECK(gaps[0] == 50ms);
  CHECK(gaps[1] == 300ms);
  CHECK(gaps[9] == milliseconds(288'000));
  CHECK(p.window == milliseconds(864'000));
  auto capped = RetryPolicy::Scaled(50, 3);
  CHECK(Gaps(capped).size() == 2);
  CHECK(RetryPolicy::Scaled(5000).delays == RetryPolicy().delays);
}

TEST_SUITE_END();
}  // namespace
}  // namespace streetwise::notify
