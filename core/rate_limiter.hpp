// Token-bucket rate limiting keyed by a string (a token id, a client address). Pure logic with an
// injectable clock; unit-tested in tests/unit/core.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/clock.hpp"

namespace streetwise::core {

struct RateLimit {
  double per_second = 0;  // refill rate; 0 disables the limiter
  double burst = 0;       // bucket size
};

class RateLimiter {
 public:
  // `clock` must outlive the limiter.
  RateLimiter(RateLimit limit, const Clock& clock, std::size_t max_keys = 100000)
      : limit_(limit), clock_(clock), max_keys_(max_keys) {}

  // Takes one token for `key`. Returns 0 if allowed, otherwise the whole seconds to wait before a
  // token is available (>= 1). Thread-safe.
  std::int64_t Acquire(std::string_view key);

  bool enabled() const { return limit_.per_second > 0; }

 private:
  struct Bucket {
    double tokens;
    std::int64_t updated_ms;
  };
  RateLimit limit_;
  const Clock& clock_;
  std::size_t max_keys_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace streetwise::core
