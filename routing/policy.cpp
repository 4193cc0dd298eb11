#include "routing/policy.hpp"

#include <date/tz.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>

namespace streetwise::routing {
namespace {

constexpr double kInHoursBonus = 2.0;
constexpr double kLoadPenalty = 1.0;
constexpr double kTrackRecordMax = 1.0;
constexpr double kSpeedMax = 0.5;

const date::time_zone* FindZone(const std::string& name) {
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {
    return nullptr;
  }
}

}  // namespace

int WeekdayIndex(std::string_view name) {
  auto it = std::find(kWeekdayNames.begin(), kWeekdayNames.end(), name);
  return it == kWeekdayNames.end() ? -1 : static_cast<int>(it - kWeekdayNames.begin());
}

std::string FormatHhMm(int minutes) { return fmt::format("{:02}:{:02}", minutes / 60, minutes % 60); }

int ParseHhMm(std::string_view s) {
  if (s.size() != 5 || s[2] != ':') return -1;
  for (std::size_t i : {0u, 1u, 3u, 4u}) {
    if (s[i] < '0' || s[i] > '9') return -1;
  }
  int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
  if (h > 24 || m > 59 || (h == 24 && m != 0)) return -1;
  return h * 60 + m;
}

bool IsKnownTimeZone(const std::string& name) { return FindZone(name) != nullptr; }

bool InWorkingHours(const Expertise& e, core::TimePoint now) {
  using namespace std::chrono;
  const date::time_zone* zone = FindZone(e.timezone);
  auto sys = time_point_cast<minutes>(system_clock::time_point(now.time_since_epoch()));
  date::local_time<minutes> local = zone ? date::floor<minutes>(zone->to_local(sys))
                                         : date::local_time<minutes>(sys.time_since_epoch());
  auto day = date::floor<date::days>(local);
  int weekday = static_cast<int>(date::weekday(day).c_encoding());  // 0 = Sunday
  int minute = static_cast<int>((local - day).count());
  const auto& h = e.hours;
  if (h.start_minute <= h.end_minute) {
    return h.days[weekday] && minute >= h.start_minute && minute < h.end_minute;
  }
  // Spans midnight: the evening part belongs to today's shift, the morning part to yesterday's.
  if (minute >= h.start_minute) return h.days[weekday];
  if (minute < h.end_minute) return h.days[(weekday + 6) % 7];
  return false;
}

std::vector<Candidate> RankExperts(const RoutingRequest& request, const std::vector<ExpertState>& experts) {
  std::vector<Candidate> out;
  for (const auto& x : experts) {
    const auto& e = x.expertise;
    double tag_score = 0;
    int accepted = 0;
    std::vector<std::string> matched;
    for (const auto& tag : request.tags) {
      auto it = e.tags.find(tag);
      if (it == e.tags.end()) continue;
      double level = std::clamp(it->second, 1, 5);
      auto declines = x.not_my_area_by_tag.find(tag);
      if (declines != x.not_my_area_by_tag.end() && declines->second > 0) {
        level = std::max(level * 0.1, level * std::pow(0.5, declines->second));
      }
      tag_score += level;
      matched.push_back(tag);
      if (auto a = x.accepted_by_tag.find(tag); a != x.accepted_by_tag.end()) accepted += a->second;
    }
    if (matched.empty()) continue;  // no overlap: not a candidate at all
    Candidate c;
    c.user_id = e.user_id;
    c.in_working_hours = InWorkingHours(e, request.now);
    double track = kTrackRecordMax * std::min(1.0, accepted / 10.0);
    double speed = 0;
    if (x.mean_answer_minutes) speed = kSpeedMax * std::clamp(1.0 - *x.mean_answer_minutes / 480.0, 0.0, 1.0);
    double load = e.max_open > 0 ? kLoadPenalty * std::min(1.0, static_cast<double>(x.open_assignments) / e.max_open) : kLoadPenalty;
    c.score = tag_score + track + speed - load + (c.in_working_hours ? kInHoursBonus : 0);
    c.score = std::round(c.score * 1000) / 1000;
    if (e.user_id == request.author_id) {
      c.reason = "skipped: the author";
    } else if (request.already_asked.count(e.user_id)) {
      c.reason = "skipped: already asked about this thread";
    } else if (e.away_until && *e.away_until > request.now) {
      c.reason = fmt::format("skipped: away until {}", core::FormatRfc3339(*e.away_until));
    } else if (x.open_assignments >= e.max_open) {
      c.reason = fmt::format("skipped: at max_open ({} open)", x.open_assignments);
    } else {
      c.eligible = true;
      c.reason = fmt::format("tags {}; level score {:.1f}; {} accepted; load {}/{}; {}", fmt::join(matched, ","),
                             tag_score, accepted, x.open_assignments, e.max_open,
                             c.in_working_hours ? "in working hours" : "outside working hours");
    }
    out.push_back(std::move(c));
  }
  std::sort(out.begin(), out.end(), [](const Candidate& a, const Candidate& b) {
    if (a.eligible != b.eligible) return a.eligible;
    if (a.score != b.score) return a.score > b.score;
    return a.user_id < b.user_id;
  });
  int picked = 0;
  for (auto& c : out) {
    if (!c.eligible || picked >= request.picks) continue;
    c.selected = true;
    ++picked;
  }
  return out;
}

}  // namespace streetwise::routing
