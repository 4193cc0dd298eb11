#include "notify/quiet_hours.hpp"

#include <doctest/doctest.h>

#include <chrono>

namespace streetwise::notify {
namespace {
TEST_SUITE_BEGIN("notify");
using namespace std::chrono_literals;

core::TimePoint Utc(std::string_view rfc3339) {
  auto t = core::ParseTimestamp(rfc3339);
  REQUIRE(t);
  return *t;
}

const QuietHours kNight{22 * 60, 7 * 60};  // 22:00-07:00

TEST_CASE("clock times parse and format") {
  CHECK(ParseClockTime("00:00") == 0);
  CHECK(ParseClockTime("22:30") == 22 * 60 + 30);
  CHECK(ParseClockTime("23:59") == 23 * 60 + 59);
  CHECK_FALSE(ParseClockTime("24:00"));
  CHECK_FALSE(ParseClockTime("7:00"));
  CHECK_FALSE(ParseClockTime("07:60"));
  CHECK_FALSE(ParseClockTime("07-00"));
  CHECK(FormatClockTime(7 * 60 + 5) == "07:05");
}

TEST_CASE("a window spanning midnight, in UTC") {
  CHECK(InQuietHours(Utc("2026-06-01T23:30:00Z"), kNight, "UTC"));
  CHECK(InQuietHours(Utc("2026-06-01T06:59:00Z"), kNight, "UTC"));
  CHECK_FALSE(InQuietHours(Utc("2026-06-01T07:00:00Z"), kNight, "UTC"));
  CHECK_FALSE(InQuietHours(Utc("2026-06-01T12:00:00Z"), kNight, "UTC"));
  CHECK(InQuietHours(Utc("2026-06-01T22:00:00Z"), kNight, "UTC"));
  CHECK(QuietHoursEnd(Utc("2026-06-01T23:30:00Z"), kNight, "UTC") == Utc("2026-06-02T07:00:00Z"));
  CHECK(QuietHoursEnd(Utc("2026-06-01T06:59:00Z"), kNight, "UTC") == Utc("2026-06-01T07:00:00Z"));
  auto noon = Utc("2026-06-01T12:00:00Z");
  CHECK(QuietHoursEnd(noon, kNight, "UTC") == noon);  // not quiet: now
}

TEST_CASE("a same-day window and an empty one") {
  QuietHours lunch{12 * 60, 13 * 60};
  CHECK(QuietHoursEnd(Utc("2026-06-01T12:15:00Z"), lunch, "UTC") == Utc("2026-06-01T13:00:00Z"));
  CHECK_FALSE(InQuietHours(Utc("2026-06-01T13:00:00Z"), lunch, "UTC"));
  QuietHours empty{9 * 60, 9 * 60};
  CHECK_FALSE(InQuietHours(Utc("2026-06-01T09:00:00Z"), empty, "UTC"));
}

TEST_CASE("one instant, three time zones (follow the sun)") {
  auto t = Utc("2026-06-01T14:00:00Z");  // 23:00 in Tokyo, 16:00 in Berlin, 10:00 in New York
  CHECK(InQuietHours(t, kNight, "Asia/Tokyo"));
  CHECK_FALSE(InQuietHours(t, kNight, "Europe/Berlin"));
  CHECK_FALSE(InQuietHours(t, kNight, "America/New_York"));
  CHECK(QuietHoursEnd(t, kNight, "Asia/Tokyo") == Utc("2026-06-01T22:00:00Z"));  // 07:00 JST
}

TEST_CASE("DST: the night the clocks spring forward is an hour shorter") {
  // 22:30 EST on 7 March 2026; clocks go from 02:00 to 03:00 EDT; 07:00 EDT = 11:00Z, not 12:00Z.
  auto t = Utc("2026-03-08T03:30:00Z");
  REQUIRE(InQuietHours(t, kNight, "America/New_York"));
  CHECK(QuietHoursEnd(t, kNight, "America/New_York") == Utc("2026-03-08T11:00:00Z"));
}

TEST_CASE("DST: the night the clocks fall back is an hour longer") {
  // 22:30 EDT on 31 October 2026; 07:00 EST on 1 November = 12:00Z.
  auto t = Utc("2026-11-01T02:30:00Z");
  REQUIRE(InQuietHours(t, kNight, "America/New_York"));
  CHECK(QuietHoursEnd(t, kNight, "America/New_York") == Utc("2026-11-01T12:00:00Z"));
}

TEST_CASE("DST: an end time that does not exist maps to the transition") {
  QuietHours q{22 * 60, 2 * 60 + 30};  // ends 02:30, which 8 March 2026 skips in New York
  auto t = Utc("2026-03-08T04:00:00Z");  // 23:00 EST
  REQUIRE(InQuietHours(t, q, "America/New_York"));
  CHECK(QuietHoursEnd(t, q, "America/New_York") == Utc("2026-03-08T07:00:00Z"));  // 03:00 EDT
}

TEST_CASE("the next daily digest time follows local time across DST") {
  // Berlin springs forward on 29 March 2026: 08:00 CEST = 06:00Z (07:00Z the day before).
  CHECK(NextLocalTime(Utc("2026-03-28T12:00:00Z"), 8 * 60, "Europe/Berlin") == Utc("2026-03-29T06:00:00Z"));
  CHECK(NextLocalTime(Utc("2026-03-28T06:59:00Z"), 8 * 60, "Europe/Berlin") == Utc("2026-03-28T07:00:00Z"));
  // Strictly after now.
  CHECK(NextLocalTime(Utc("2026-06-01T08:00:00Z"), 8 * 60, "UTC") == Utc("2026-06-02T08:00:00Z"));
}

TEST_CASE("an unknown time zone counts as UTC") {
  CHECK_FALSE(IsKnownTimeZone("Mars/Olympus_Mons"));
  CHECK_FALSE(IsKnownTimeZone(""));
  CHECK(IsKnownTimeZone("Asia/Kolkata"));
  auto t = Utc("2026-06-01T23:30:00Z");
  CHECK(QuietHoursEnd(t, kNight, "Mars/Olympus_Mons") == QuietHoursEnd(t, kNight, "UTC"));
}

TEST_SUITE_END();
}  // namespace
}  // namespace streetwise::notify
