// Pure expert-routing policy: who should answer a question, in what order, and why.
//
// No I/O and no storage types: the caller gathers expert profiles and load figures, and applies the
// decisions. Time zones are resolved through the IANA database (Howard Hinnant's date/tz, backed by
// the system tzdata). Unit-tested in tests/unit/routing with fixed instants.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"

namespace streetwise::routing {

// Local working hours: minutes since local midnight [start, end) on the given weekdays
// (days[0] = Sunday ... days[6] = Saturday). end < start spans midnight.
struct WorkingHours {
  int start_minute = 9 * 60;
  int end_minute = 17 * 60;
  std::array<bool, 7> days{false, true, true, true, true, true, false};
};

// What an expert declared (PUT /v1/users/{id}/expertise).
struct Expertise {
  std::string user_id;
  std::map<std::string, int> tags;  // normalised tag -> level 1..5
  std::string timezone = "UTC";     // IANA name
  WorkingHours hours;
  int max_open = 5;                 // open assignments at once
  std::optional<core::TimePoint> away_until;
  std::set<std::string> watch_tags;  // notified of new threads, never assigned
};

// What the service knows about an expert at routing time.
struct ExpertState {
  Expertise expertise;
  int open_assignments = 0;
  std::map<std::string, int> accepted_by_tag;     // accepted answers in each tag
  std::map<std::string, int> not_my_area_by_tag;  // "not my area" declines in each tag
  std::optional<double> mean_answer_minutes;      // on assignments answered so far
};

struct RoutingSettings {
  int fanout = 2;                 // experts per round
  std::int64_t sla_seconds = 4 * 3600;  // an assignment's due time (default 4 h)
  int max_rounds = 3;             // rounds before escalation contacts are notified
  std::int64_t claim_window_seconds = 3600;  // a claim pauses escalation this long (default 1 h)
};

struct Candidate {
  std::string user_id;
  double score = 0;
  bool in_working_hours = false;
  bool eligible = false;
  bool selected = false;
  std::string reason;  // why chosen or skipped, for GET /v1/threads/{id}/routing
};

struct RoutingRequest {
  std::vector<std::string> tags;  // the thread's normalised tags
  std::string author_id;
  core::TimePoint now;
  std::set<std::string> already_asked;  // never asked twice for the same thread
  int picks = 2;                        // how many to select
};

// Ranks every expert with tag overlap: score = sum over the thread's tags of level (halved per
// "not my area" decline in that tag, floor 10%) + up to 1.0 for accepted answers in those tags
// + up to 0.5 for answering fast - 1.0 x load (open / max_open) + 2.0 when inside working hours.
// Skips the author, experts away, at max_open or already asked. Selects the top `picks` eligible,
// ties broken by user id. Returns all candidates with tag overlap, best first.
std::vector<Candidate> RankExperts(const RoutingRequest& request, const std::vector<ExpertState>& experts);

// Whether `now` falls inside the working hours in the expert's time zone (an unknown zone counts
// as UTC). DST-correct.
bool InWorkingHours(const Expertise& e, core::TimePoint now);

// Weekday names as used by the API and the stored format ("sun" = days[0] ... "sat" = days[6]).
inline constexpr std::array<std::string_view, 7> kWeekdayNames{"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
// The index of a weekday name in kWeekdayNames, or -1.
int WeekdayIndex(std::string_view name);
// "HH:MM" (00:00..24:00) <-> minutes since midnight; ParseHhMm returns -1 for anything else.
std::string FormatHhMm(int minutes);
int ParseHhMm(std::string_view s);

// Whether `name` is a known IANA time zone.
bool IsKnownTimeZone(const std::string& name);

}  // namespace streetwise::routing
