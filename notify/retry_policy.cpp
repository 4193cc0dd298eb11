#include "notify/retry_policy.hpp"

#include <algorithm>
#include <cmath>

namespace streetwise::notify {
using namespace std::chrono_literals;

std::vector<std::chrono::milliseconds> RetryPolicy::DefaultDelays() {
  return {5s, 30s, 2min, 10min, 30min, 1h, 2h, 4h, 8h, 8h};
}

RetryPolicy RetryPolicy::Scaled(std::int64_t base_ms, int max_attempts) {
  RetryPolicy p;
  base_ms = std::max<std::int64_t>(base_ms, 1);
  const double factor = static_cast<double>(base_ms) / 5000.0;
  for (auto& d : p.delays) {
    d = std::chrono::milliseconds(std::max<std::int64_t>(1, std::llround(static_cast<double>(d.count()) * factor)));
  }
  p.window = std::chrono::milliseconds(
      std::max<std::int64_t>(1, std::llround(static_cast<double>(p.window.count()) * factor)));
  p.max_attempts = max_attempts;
  return p;
}

std::optional<core::TimePoint> NextAttempt(const RetryPolicy& policy, int attempts_made, AttemptOutcome outcome,
                                           core::TimePoint first_attempt, core::TimePoint now, double random01,
                                           std::optional<std::chrono::milliseconds> retry_after) {
  if (outcome == AttemptOutcome::kDelivered || outcome == AttemptOutcome::kPermanent) return std::nullopt;
  if (attempts_made < 1 || attempts_made >= policy.MaxAttempts()) return std::nullopt;
  const auto& delays = policy.delays;
  if (delays.empty()) return std::nullopt;
  auto base = delays[std::min<std::size_t>(static_cast<std::size_t>(attempts_made - 1), delays.size() - 1)];
  double r = std::clamp(random01, 0.0, 1.0);
  double factor = 1.0 + policy.jitter * (2.0 * r - 1.0);
  auto delay = std::chrono::milliseconds(std::llround(static_cast<double>(base.count()) * factor));
  if (retry_after && *retry_after > delay) delay = *retry_after;
  auto deadline = first_attempt + policy.window;
  auto next = now + delay;
  if (next > deadline) {
    // The schedule's last step is clipped to the window rather than dropped, unless the window
    // has already closed.
    if (now >= deadline) return std::nullopt;
    next = deadline;
  }
  return next;
}

}  // namespace streetwise::notify
