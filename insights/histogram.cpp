#include "insights/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace streetwise::insights {

int BucketOf(std::int64_t seconds) {
  if (seconds < 64) return seconds < 0 ? 0 : static_cast<int>(seconds);
  auto v = static_cast<std::uint64_t>(seconds);
  int octave = std::bit_width(v) - 1;  // >= 6
  int sub = static_cast<int>((v >> (octave - 5)) & 31);
  return std::min(64 + (octave - 6) * 32 + sub, kBucketCount - 1);
}

std::int64_t BucketLow(int bucket) {
  if (bucket < 64) return bucket;
  int octave = 6 + (bucket - 64) / 32;
  int sub = (bucket - 64) % 32;
  return static_cast<std::int64_t>(32 + sub) << (octave - 5);
}

std::int64_t BucketHigh(int bucket) {
  if (bucket < 64) return bucket + 1;
  int octave = 6 + (bucket - 64) / 32;
  return BucketLow(bucket) + (std::int64_t{1} << (octave - 5));
}

std::int64_t BucketValue(int bucket) {
  if (bucket < 64) return bucket;
  return (BucketLow(bucket) + BucketHigh(bucket) - 1) / 2;
}

void LatencyHistogram::Add(int bucket, std::int64_t count) {
  if (count == 0 || bucket < 0 || bucket >= kBucketCount) return;
  auto& c = buckets_[bucket];
  c += count;
  total_ += count;
  if (c == 0) buckets_.erase(bucket);
}

std::optional<std::int64_t> LatencyHistogram::Percentile(double q) const {
  if (total_ <= 0) return std::nullopt;
  auto rank = static_cast<std::int64_t>(std::ceil(q * static_cast<double>(total_)));
  rank = std::clamp<std::int64_t>(rank, 1, total_);
  std::int64_t seen = 0;
  for (const auto& [bucket, count] : buckets_) {
    seen += count;
    if (seen >= rank) return BucketValue(bucket);
  }
  return BucketValue(buckets_.rbegin()->first);
}

double LatencyHistogram::CountAtMost(std::int64_t seconds) const {
  double n = 0;
  for (const auto& [bucket, count] : buckets_) {
    auto low = BucketLow(bucket), high = BucketHigh(bucket);
    if (high - 1 <= seconds) {
      n += static_cast<double>(count);
    } else if (low <= seconds) {
      n += static_cast<double>(count) * static_cast<double>(seconds - low + 1) / static_cast<double>(high - low);
    } else {
      break;
    }
  }
  return n;
}

}  // namespace streetwise::insights
