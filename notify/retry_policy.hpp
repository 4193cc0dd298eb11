// Retry schedule for remote deliveries (webhooks, e-mail): pure, no I/O, no clock.
//
// Exponential backoff with jitter, bounded by a window measured from the first attempt (24 h by
// default, as Standard Webhooks/Svix do); after the last attempt a delivery is parked as dead with
// its last error. The caller supplies the random number so the policy is deterministic in tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/clock.hpp"

namespace streetwise::notify {

// What one attempt's outcome means for the delivery.
enum class AttemptOutcome {
  kDelivered,  // 2xx / SMTP 250: done
  kTransient,  // network error, timeout, non-2xx HTTP, SMTP 4xx: retry per schedule
  kPermanent,  // SMTP 5xx (the relay refused the message for good): dead at once
};

struct RetryPolicy {
  // Delay before retry i (after attempt i+1 failed). Default: 5 s, 30 s, 2 min, 10 min, 30 min,
  // 1 h, 2 h, 4 h, 8 h, 8 h: 11 attempts in about 23 h 43 min.
  std::vector<std::chrono::milliseconds> delays = DefaultDelays();
  // Each delay is multiplied by a factor in [1 - jitter, 1 + jitter] (default +-20 %), so
  // deliveries that failed together do not retry in lockstep.
  double jitter = 0.2;
  // No attempt is scheduled later than first_attempt + window (default 24 h).
  std::chrono::milliseconds window = std::chrono::hours(24);
  // Attempts in total including the first; 0 = 1 + delays.size() (default).
  int max_attempts = 0;

  static std::vector<std::chrono::milliseconds> DefaultDelays();

  // The default schedule with every delay and the window scaled by base_ms / 5000 (the first delay
  // becomes base_ms). For tests and benchmarks: STREETWISE_RETRY_BASE_MS. base_ms >= 1.
  static RetryPolicy Scaled(std::int64_t base_ms, int max_attempts = 0);

  int MaxAttempts() const { return max_attempts > 0 ? max_attempts : static_cast<int>(delays.size()) + 1; }
};

// When to try again after `attempts_made` attempts (>= 1) of which the last failed with
// `outcome`, or nullopt when the delivery is dead (permanent failure, attempts exhausted, or the
// next attempt would fall outside the window). `random01` is uniform in [0, 1). `retry_after` is
// the receiver's Retry-After (HTTP 429/503): the next attempt is no earlier than that, still
// within the window. The result is never earlier than `now`.
std::optional<core::TimePoint> NextAttempt(const RetryPolicy& policy, int attempts_made, AttemptOutcome outcome,
                                           core::TimePoint first_attempt, core::TimePoint now, double random01,
                                           std::optional<std::chrono::milliseconds> retry_after = std::nullopt);

}  // namespace streetwise::notify
