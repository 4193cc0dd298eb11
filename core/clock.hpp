// Wall-clock access behind an interface so tests can inject time.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace streetwise::core {

using TimePoint = std::chrono::time_point<std::chrono::system_clock, std::chrono::milliseconds>;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

// The real clock. Thread-safe.
class SystemClock final : public Clock {
 public:
  TimePoint Now() const override {
    return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  }
};

// Milliseconds since the Unix epoch.
inline std::int64_t ToUnixMillis(TimePoint t) { return t.time_since_epoch().count(); }
inline TimePoint FromUnixMillis(std::int64_t ms) { return TimePoint(std::chrono::milliseconds(ms)); }

// RFC 3339 UTC with millisecond precision: "2026-11-24T10:00:00.123Z".
std::string FormatRfc3339(TimePoint t);

}  // namespace streetwise::core

namespace streetwise::core {

// Parses "YYYY-MM-DD" (midnight UTC; with end_of_day, 23:59:59.999) or RFC 3339 UTC
// "YYYY-MM-DDTHH:MM:SS[.fff]Z". nullopt for anything else.
std::optional<TimePoint> ParseTimestamp(std::string_view s, bool end_of_day = false);

}  // namespace streetwise::core
