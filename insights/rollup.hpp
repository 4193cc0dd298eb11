// A rollup: named integer figures of one (slice, day), summed as threads and events are applied.
//
// Stored as one small binary value per key (varint field id, zig-zag varint value pairs), so a
// summary over a year of days and dozens of tags decodes a few thousand values instead of scanning
// millions of threads. Field ids are part of the on-disk format: never renumber.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/model.hpp"
#include "insights/histogram.hpp"

namespace streetwise::insights {

namespace field {
// Thread rollups (key org/r/...), attributed to the day the thread was created.
inline std::uint32_t Threads(core::ThreadKind k, core::ThreadStatus s) {
  return static_cast<std::uint32_t>(k) * 4 + static_cast<std::uint32_t>(s);  // 0..15
}
inline constexpr std::uint32_t kEscalations = 16;         // escalation rounds fired for these threads
inline constexpr std::uint32_t kFirstAnswerBase = 1000;   // + bucket: seconds to the first answer
inline constexpr std::uint32_t kAcceptedBase = 3000;      // + bucket: seconds to the accepted answer
// Expert rollups (key org/x/...), attributed to the day of the event.
inline constexpr std::uint32_t kAssigned = 0;
inline constexpr std::uint32_t kDeclined = 1;
inline constexpr std::uint32_t kAnswered = 2;
inline constexpr std::uint32_t kAcceptedAnswers = 3;
inline constexpr std::uint32_t kAnswerTimeBase = 1000;    // + bucket: seconds from assignment (or question) to answer
}  // namespace field

class Rollup {
 public:
  void Add(std::uint32_t field, std::int64_t delta);
  std::int64_t Get(std::uint32_t field) const;
  void Merge(const Rollup& other);
  bool empty() const { return fields_.empty(); }
  // Adds the buckets stored from `base` (base + 0 .. base + kBucketCount - 1) to `h`.
  void AddHistogram(std::uint32_t base, LatencyHistogram& h) const;

  std::string Encode() const;
  static std::optional<Rollup> Decode(std::string_view bytes);

  const std::map<std::uint32_t, std::int64_t>& fields() const { return fields_; }

 private:
  std::map<std::uint32_t, std::int64_t> fields_;  // zero values are never kept
};

// The sum of many rollups, for reads: a dense array indexed by field id, so adding an encoded rollup
// is a varint decode straight into place (no allocation). Field ids must be below kMaxField.
class RollupSum {
 public:
  static constexpr std::uint32_t kMaxField = 4096;
  RollupSum() : v_(kMaxField, 0) {}
  // Adds an encoded rollup; false (and nothing added) if it does not decode.
  bool AddEncoded(std::string_view bytes);
  void Merge(const RollupSum& other);
  std::int64_t Get(std::uint32_t field) const { return field < kMaxField ? v_[field] : 0; }
  void AddHistogram(std::uint32_t base, LatencyHistogram& h) const;

 private:
  std::vector<std::int64_t> v_;
};

}  // namespace streetwise::insights
