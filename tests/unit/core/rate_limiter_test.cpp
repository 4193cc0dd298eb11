// Token buckets with an injected clock.
#include <doctest/doctest.h>

#include "core/rate_limiter.hpp"
#include "unit/support/test_support.hpp"

using streetwise::core::RateLimiter;
using streetwise::testing::FakeClock;

TEST_SUITE("core") {
  TEST_CASE("a bucket allows its burst, then refills at the rate") {
    FakeClock clock;
    RateLimiter limiter({2.0, 3.0}, clock);
    CHECK(limiter.Acquire("k") == 0);
    CHECK(limiter.Acquire("k") == 0);
    CHECK(limiter.Acquire("k") == 0);
    CHECK(limiter.Acquire("k") >= 1);  // empty: wait at least a second (rounded up)
    CHECK(limiter.Acquire("other") == 0);  // keys are independent
    clock.Advance(std::chrono::milliseconds(500));  // +1 token at 2/s
    CHECK(limiter.Acquire("k") == 0);
    CHECK(limiter.Acquire("k") >= 1);
    clock.Advance(std::chrono::seconds(10));  // refills up to the burst only
    for (int i = 0; i < 3; ++i) CHECK(limiter.Acquire("k") == 0);
    CHECK(limiter.Acquire("k") >= 1);
  }

  TEST_CASE("a zero rate disables limiting; the key table stays bounded") {
    FakeClock clock;
    RateLimiter off({0, 0}, clock);
    for (int i = 0; i < 100; ++i) CHECK(off.Acquire("k") == 0);
    RateLimiter small({1.0, 1.0}, clock, 10);
    for (int i = 0; i < 1000; ++i) CHECK(small.Acquire("key" + std::to_string(i)) == 0);
  }
}
