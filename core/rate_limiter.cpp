#include "core/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace streetwise::core {

std::int64_t RateLimiter::Acquire(std::string_view key) {
  if (!enabled()) return 0;
  std::int64_t now = ToUnixMillis(clock_.Now());
  std::lock_guard lock(mu_);
  auto it = buckets_.find(std::string(key));
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_keys_) {
      // Forget buckets that have refilled completely: they carry no state worth keeping.
      for (auto b = buckets_.begin(); b != buckets_.end();) {
        double refilled = b->second.tokens + (now - b->second.updated_ms) / 1000.0 * limit_.per_second;
        b = refilled >= limit_.burst ? buckets_.erase(b) : std::next(b);
      }
    }
    it = buckets_.emplace(std::string(key), Bucket{limit_.burst, now}).first;
  }
  Bucket& b = it->second;
  b.tokens = std::min(limit_.burst, b.tokens + (now - b.updated_ms) / 1000.0 * limit_.per_second);
  b.updated_ms = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return 0;
  }
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil((1 - b.tokens) / limit_.per_second)));
}

}  // namespace streetwise::core
