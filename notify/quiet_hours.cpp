#include "notify/quiet_hours.hpp"

#include <date/tz.h>

#include <charconv>
#include <fmt/format.h>

namespace streetwise::notify {
using std::chrono::minutes;

namespace {

const date::time_zone* Zone(std::string_view name) {
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {
    return nullptr;  // unknown zone: the callers treat it as UTC
  }
}

struct LocalNow {
  date::local_days day;
  int minute = 0;  // since local midnight
};

LocalNow ToLocal(core::TimePoint now, const date::time_zone* zone) {
  auto sys = std::chrono::time_point_cast<minutes>(now);
  date::local_time<minutes> local =
      zone ? date::floor<minutes>(zone->to_local(sys)) : date::local_time<minutes>(sys.time_since_epoch());
  auto day = date::floor<date::days>(local);
  return {day, static_cast<int>((local - day).count())};
}

core::TimePoint ToSys(date::local_time<minutes> local, const date::time_zone* zone) {
  if (!zone) return core::TimePoint(std::chrono::duration_cast<std::chrono::milliseconds>(local.time_since_epoch()));
  // choose::earliest: the first occurrence of an ambiguous time; a nonexistent time maps to the
  // transition instant.
  auto sys = zone->to_sys(local, date::choose::earliest);
  return std::chrono::time_point_cast<std::chrono::milliseconds>(sys);
}

bool Inside(int minute, const QuietHours& q) {
  if (q.start_minute == q.end_minute) return false;
  if (q.start_minute < q.end_minute) return minute >= q.start_minute && minute < q.end_minute;
  return minute >= q.start_minute || minute < q.end_minute;
}

}  // namespace

std::optional<int> ParseClockTime(std::string_view s) {
  if (s.size() != 5 || s[2] != ':') return std::nullopt;
  int h = 0, m = 0;
  auto r1 = std::from_chars(s.data(), s.data() + 2, h);
  auto r2 = std::from_chars(s.data() + 3, s.data() + 5, m);
  if (r1.ec != std::errc() || r1.ptr != s.data() + 2 || r2.ec != std::errc() || r2.ptr != s.data() + 5) {
    return std::nullopt;
  }
  if (h < 0 || h > 23 || m < 0 || m > 59) return std::nullopt;
  return h * 60 + m;
}

std::string FormatClockTime(int minute_of_day) {
  return fmt::format("{:02}:{:02}", minute_of_day / 60, minute_of_day % 60);
}

bool IsKnownTimeZone(std::string_view name) { return !name.empty() && Zone(name) != nullptr; }

bool InQuietHours(core::TimePoint now, const QuietHours& q, std::string_view tz) {
  return Inside(ToLocal(now, Zone(tz)).minute, q);
}

core::TimePoint QuietHoursEnd(core::TimePoint now, const QuietHours& q, std::string_view tz) {
  const auto* zone = Zone(tz);
  auto local = ToLocal(now, zone);
  if (!Inside(local.minute, q)) return now;
  date::local_days end_day = local.day;
  if (q.start_minute > q.end_minute && local.minute >= q.start_minute) end_day += date::days(1);
  auto end = ToSys(date::local_time<minutes>(end_day) + minutes(q.end_minute), zone);
  return end > now ? end : now;
}

core::TimePoint NextLocalTime(core::TimePoint now, int minute_of_day, std::string_view tz) {
  const auto* zone = Zone(tz);
  auto local = ToLocal(now, zone);
  for (int d = 0; d < 3; ++d) {
    auto at = ToSys(date::local_time<minutes>(local.day + date::days(d)) + minutes(minute_of_day), zone);
    if (at > now) return at;
  }
  return now + std::chrono::hours(24);  // unreachable with a sane tz database
}

}  // namespace streetwise::notify
