// Local-time rules for people: quiet hours and the daily digest time, in the recipient's IANA time
// zone (Howard Hinnant's date/tz over the system tzdata). Pure, DST-correct, thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/clock.hpp"

namespace streetwise::notify {

// Local quiet hours [start, end) in minutes since local midnight; end < start spans midnight
// ("22:00"-"07:00"); start == end is an empty window.
struct QuietHours {
  int start_minute = 22 * 60;
  int end_minute = 7 * 60;
};

// "HH:MM" (00:00-23:59) -> minutes since midnight.
std::optional<int> ParseClockTime(std::string_view hhmm);
std::string FormatClockTime(int minute_of_day);

// Whether `name` is a time zone the tz database knows.
bool IsKnownTimeZone(std::string_view name);

// Whether `now` falls inside the quiet hours in `tz` (an unknown zone counts as UTC).
bool InQuietHours(core::TimePoint now, const QuietHours& q, std::string_view tz);

// The instant the quiet period containing `now` ends, or `now` itself when `now` is not quiet.
// A local end time that does not exist on a DST spring-forward day maps to the transition; an
// ambiguous one (fall-back) to its first occurrence.
core::TimePoint QuietHoursEnd(core::TimePoint now, const QuietHours& q, std::string_view tz);

// The first instant strictly after `now` whose local time of day in `tz` is `minute_of_day`
// (the next daily digest).
core::TimePoint NextLocalTime(core::TimePoint now, int minute_of_day, std::string_view tz);

}  // namespace streetwise::notify
