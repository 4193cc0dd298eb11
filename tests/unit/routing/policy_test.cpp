// Expert ranking and working hours with fixed instants (no wall clock).
#include <doctest/doctest.h>

#include "core/clock.hpp"
#include "routing/policy.hpp"

namespace sw = streetwise;
using sw::routing::ExpertState;
using sw::routing::RankExperts;
using sw::routing::RoutingRequest;

namespace {

sw::core::TimePoint At(const char* rfc3339) { return *sw::core::ParseTimestamp(rfc3339); }

ExpertState Expert(std::string id, std::map<std::string, int> tags, std::string tz = "UTC") {
  ExpertState x;
  x.expertise.user_id = std::move(id);
  x.expertise.tags = std::move(tags);
  x.expertise.timezone = std::move(tz);
  x.expertise.hours.days.fill(true);
  x.expertise.hours.start_minute = 0;
  x.expertise.hours.end_minute = 24 * 60;
  return x;
}

const sw::routing::Candidate* Find(const std::vector<sw::routing::Candidate>& v, const std::string& id) {
  for (const auto& c : v) {
    if (c.user_id == id) return &c;
  }
  return nullptr;
}

RoutingRequest Request(std::vector<std::string> tags, int picks = 2) {
  RoutingRequest r;
  r.tags = std::move(tags);
  r.author_id = "author";
  r.now = At("2026-03-10T12:00:00Z");
  r.picks = picks;
  return r;
}

}  // namespace

TEST_SUITE("routing") {
  TEST_CASE("tag overlap weighted by level decides the order; no overlap is no candidate") {
    std::vector<ExpertState> experts{Expert("low", {{"oracle", 1}}), Expert("high", {{"oracle", 5}}),
                                     Expert("both", {{"oracle", 3}, {"rac", 3}}), Expert("other", {{"sap", 5}})};
    auto ranked = RankExperts(Request({"oracle", "rac"}), experts);
    REQUIRE(ranked.size() == 3);
    CHECK(ranked[0].user_id == "both");  // 3 + 3
    CHECK(ranked[1].user_id == "high");  // 5
    CHECK(ranked[2].user_id == "low");
    CHECK(ranked[0].selected);
    CHECK(ranked[1].selected);
    CHECK_FALSE(ranked[2].selected);
    CHECK(Find(ranked, "other") == nullptr);
  }

  TEST_CASE("the author, experts away, at max_open or already asked are skipped with a reason") {
    auto away = Expert("away", {{"oracle", 5}});
    away.expertise.away_until = At("2026-03-11T00:00:00Z");
    auto back = Expert("back", {{"oracle", 2}});
    back.expertise.away_until = At("2026-03-01T00:00:00Z");  // in the past: available
    auto busy = Expert("busy", {{"oracle", 5}});
    busy.expertise.max_open = 2;
    busy.open_assignments = 2;
    std::vector<ExpertState> experts{Expert("author", {{"oracle", 5}}), away, back, busy, Expert("asked", {{"oracle", 5}})};
    auto req = Request({"oracle"}, 5);
    req.already_asked = {"asked"};
    auto ranked = RankExperts(req, experts);
    CHECK_FALSE(Find(ranked, "author")->eligible);
    CHECK(Find(ranked, "author")->reason.find("author") != std::string::npos);
    CHECK_FALSE(Find(ranked, "away")->eligible);
    CHECK(Find(ranked, "away")->reason.find("away until") != std::string::npos);
    CHECK_FALSE(Find(ranked, "busy")->eligible);
    CHECK(Find(ranked, "busy")->reason.find("max_open") != std::string::npos);
    CHECK_FALSE(Find(ranked, "asked")->eligible);
    CHECK(Find(ranked, "back")->selected);
    CHECK(ranked.front().user_id == "back");  // eligible candidates come first
  }

  TEST_CASE("load lowers the score; working hours raise it") {
    auto loaded = Expert("loaded", {{"oracle", 4}});
    loaded.expertise.max_open = 4;
    loaded.open_assignments = 3;
    auto idle = Expert("idle", {{"oracle", 4}});
    auto ranked = RankExperts(Request({"oracle"}, 1), {loaded, idle});
    CHECK(ranked[0].user_id == "idle");
    CHECK(Find(ranked, "idle")->score - Find(ranked, "loaded")->score == doctest::Approx(0.75));

    auto asleep = Expert("asleep", {{"oracle", 5}}, "Asia/Tokyo");  // 12:00Z = 21:00 in Tokyo
    asleep.expertise.hours = {9 * 60, 17 * 60, {true, true, true, true, true, true, true}};
    auto awake = Expert("awake", {{"oracle", 4}}, "Europe/Berlin");  // 13:00 in Berlin
    awake.expertise.hours = {9 * 60, 17 * 60, {true, true, true, true, true, true, true}};
    ranked = RankExperts(Request({"oracle"}, 1), {asleep, awake});
    CHECK(ranked[0].user_id == "awake");  // follow the sun beats one level of expertise
    CHECK(ranked[0].in_working_hours);
    CHECK_FALSE(Find(ranked, "asleep")->in_working_hours);
  }

  TEST_CASE("'not my area' declines halve a tag's weight; accepted answers add to it") {
    auto declined = Expert("declined", {{"oracle", 4}});
    declined.not_my_area_by_tag["oracle"] = 1;
    auto proven = Expert("proven", {{"oracle", 3}});
    proven.accepted_by_tag["oracle"] = 10;
    auto ranked = RankExperts(Request({"oracle"}, 1), {declined, proven});
    CHECK(ranked[0].user_id == "proven");
    CHECK(Find(ranked, "declined")->score == doctest::Approx(2.0 + 2.0 - 0.0));  // 4 halved + in hours
  }

  TEST_CASE("ties break by user id, so routing is deterministic") {
    auto ranked = RankExperts(Request({"oracle"}, 1), {Expert("b", {{"oracle", 3}}), Expert("a", {{"oracle", 3}})});
    CHECK(ranked[0].user_id == "a");
    CHECK(ranked[0].selected);
  }

  TEST_CASE("working hours follow each expert's time zone across DST") {
    sw::routing::Expertise berlin;
    berlin.timezone = "Europe/Berlin";
    berlin.hours = {9 * 60, 17 * 60, {false, true, true, true, true, true, false}};
    // Winter (CET, UTC+1): 08:30Z is 09:30 local.
    CHECK(sw::routing::InWorkingHours(berlin, At("2026-03-27T08:30:00Z")));
    // After the switch to CEST (UTC+2) on 2026-03-29: 07:30Z is 09:30 local, 15:30Z is 17:30.
    CHECK(sw::routing::InWorkingHours(berlin, At("2026-03-30T07:30:00Z")));
    CHECK_FALSE(sw::routing::InWorkingHours(berlin, At("2026-03-30T15:30:00Z")));
    CHECK_FALSE(sw::routing::InWorkingHours(berlin, At("2026-03-28T10:00:00Z")));  // Saturday

    sw::routing::Expertise ny;
    ny.timezone = "America/New_York";
    ny.hours = {9 * 60, 17 * 60, {false, true, true, true, true, true, false}};
    CHECK(sw::routing::InWorkingHours(ny, At("2026-03-10T14:00:00Z")));  // 10:00 EDT (DST began 03-08)
    CHECK_FALSE(sw::routing::InWorkingHours(ny, At("2026-03-10T12:30:00Z")));  // 08:30 EDT

    sw::routing::Expertise night;  // a shift across midnight, Monday night into Tuesday
    night.timezone = "UTC";
    night.hours = {22 * 60, 6 * 60, {false, true, false, false, false, false, false}};
    CHECK(sw::routing::InWorkingHours(night, At("2026-03-09T23:00:00Z")));   // Monday 23:00
    CHECK(sw::routing::InWorkingHours(night, At("2026-03-10T05:00:00Z")));   // Tuesday 05:00, Monday's shift
    CHECK_FALSE(sw::routing::InWorkingHours(night, At("2026-03-10T23:00:00Z")));  // Tuesday night: off
  }

  TEST_CASE("unknown time zones are recognised") {
    CHECK(sw::routing::IsKnownTimeZone("Asia/Kolkata"));
    CHECK_FALSE(sw::routing::IsKnownTimeZone("Mars/Olympus"));
  }
}
