#include "core/clock.hpp"

#include <fmt/format.h>

#include <ctime>

namespace streetwise::core {

std::string FormatRfc3339(TimePoint t) {
  std::int64_t ms = ToUnixMillis(t);
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  int millis = static_cast<int>(ms % 1000);
  if (millis < 0) {
    millis += 1000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
}

}  // namespace streetwise::core

#include <charconv>

#include "core/validation.hpp"

namespace streetwise::core {

std::optional<TimePoint> ParseTimestamp(std::string_view s, bool end_of_day) {
  if (s.size() < 10 || !IsValidDate(s.substr(0, 10))) return std::nullopt;
  auto num = [&](std::size_t pos, std::size_t len) -> int {
    int v = -1;
    for (std::size_t i = pos; i < pos + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return -1;
    }
    std::from_chars(s.data() + pos, s.data() + pos + len, v);
    return v;
  };
  std::tm tm{};
  tm.tm_year = num(0, 4) - 1900;
  tm.tm_mon = num(5, 2) - 1;
  tm.tm_mday = num(8, 2);
  int millis = 0;
  if (s.size() == 10) {
    if (end_of_day) {
      tm.tm_hour = 23;
      tm.tm_min = 59;
      tm.tm_sec = 59;
      millis = 999;
    }
  } else {
    if (s.size() < 20 || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':' || s.back() != 'Z') {
      return std::nullopt;
    }
    tm.tm_hour = num(11, 2);
    tm.tm_min = num(14, 2);
    tm.tm_sec = num(17, 2);
    if (tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60) {
      return std::nullopt;
    }
    std::string_view frac = s.substr(19, s.size() - 20);
    if (!frac.empty()) {
      if (frac[0] != '.' || frac.size() < 2 || frac.size() > 10) return std::nullopt;
      int scale = 100;
      for (std::size_t i = 1; i < frac.size(); ++i) {
        if (frac[i] < '0' || frac[i] > '9') return std::nullopt;
        millis += (frac[i] - '0') * scale;
        scale /= 10;
      }
    }
  }
  std::time_t secs = timegm(&tm);
  return FromUnixMillis(static_cast<std::int64_t>(secs) * 1000 + millis);
}

}  // namespace streetwise::core
