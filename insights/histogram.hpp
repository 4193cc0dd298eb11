// Latency histograms with a bounded relative error, summable across days and slices.
//
// Values are whole seconds. Below 64 s every second has its own bucket (exact); above, each power of
// two is split into 32 equal buckets, so a bucket is at most 1/32 of its lower bound wide and the
// value reported for it (the bucket's midpoint) is within 1.6 % of any value it holds. This is the
// HdrHistogram idea: percentiles over millions of answers from a few hundred integers.
#pragma once

#include <cstdint>
#include <map>
#include <optional>

namespace streetwise::insights {

// Buckets are numbered from 0; every index is below kBucketCount.
inline constexpr int kBucketCount = 64 + 32 * 26;  // up to 2^32 s (136 years)

int BucketOf(std::int64_t seconds);         // negative values count as 0
std::int64_t BucketLow(int bucket);         // smallest value in the bucket
std::int64_t BucketHigh(int bucket);        // one past the largest value in the bucket
std::int64_t BucketValue(int bucket);       // the value reported for the bucket (exact below 64 s)

class LatencyHistogram {
 public:
  void Add(int bucket, std::int64_t count);
  void AddValue(std::int64_t seconds) { Add(BucketOf(seconds), 1); }
  std::int64_t Count() const { return total_; }
  // Nearest-rank percentile (q in (0, 1]): the value of the ceil(q * n)-th smallest observation,
  // reported as its bucket's value. nullopt when empty.
  std::optional<std::int64_t> Percentile(double q) const;
  // How many observations are <= seconds. Exact when `seconds` is below 64 or on a bucket
  // boundary; otherwise the straddling bucket is split linearly.
  double CountAtMost(std::int64_t seconds) const;
  const std::map<int, std::int64_t>& buckets() const { return buckets_; }

 private:
  std::map<int, std::int64_t> buckets_;
  std::int64_t total_ = 0;
};

}  // namespace streetwise::insights
