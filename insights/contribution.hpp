// What one thread adds to the insights rollups, as a pure function of the thread.
//
// The insights worker keeps, per thread, the contributions it last applied; on any change it
// recomputes them from the stored thread and applies only the difference. Edits, retags, status
// changes and deletes therefore move figures between slices exactly, and re-applying an event after
// a crash changes nothing.
//
// Slices: a thread counts in class "a" (slice "*"), in class "t" once per tag, in class "r" for its
// region and in classes "tr" / "rt" for every "tag|region" / "region|tag" pair, each on the UTC day
// it was created. That lets a summary filtered by tag and/or region read one contiguous key range
// instead of scanning threads.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/model.hpp"
#include "insights/rollup.hpp"

namespace streetwise::insights {

struct ThreadFacts {
  core::TimePoint created_at;
  core::ThreadKind kind = core::ThreadKind::kQuestion;
  core::ThreadStatus status = core::ThreadStatus::kOpen;
  std::vector<std::string> tags;
  std::optional<std::string> region;
  std::optional<core::TimePoint> first_answer_at;
  std::optional<core::TimePoint> accepted_at;
  std::int64_t escalations = 0;
};

ThreadFacts FactsOf(const core::Thread& t, std::int64_t escalations);

// Rollup key (below the "<org>/" prefix) -> what the thread adds there.
using Contributions = std::map<std::string, Rollup>;

Contributions ContributionsOf(const ThreadFacts& facts);
// now - before, per key; keys whose difference is zero are left out.
Contributions Difference(const Contributions& now, const Contributions& before);

// What the worker remembers about a thread between events.
struct StoredContributions {
  Contributions contributions;
  std::int64_t escalations = 0;  // escalation rounds seen in the change log
  std::int64_t created_ms = 0;   // the thread's creation time (the open-thread key after a delete)
  bool open = false;             // whether the thread is in the open-thread listing
};
std::string EncodeContributions(const StoredContributions& s);
std::optional<StoredContributions> DecodeContributions(std::string_view bytes);

// "YYYYMMDD" of the UTC day containing t.
std::string DayOf(core::TimePoint t);
// Whole seconds from `from` to `to`, never negative.
std::int64_t SecondsBetween(core::TimePoint from, core::TimePoint to);

// Keys below "<org>/".
std::string ThreadRollupKey(std::string_view cls, std::string_view slice, std::string_view day);
std::string ExpertRollupKey(std::string_view slice, std::string_view day, std::string_view user_id);
// The "tr" slice of a tag and a region, and the "rt" slice of a region and a tag (the same figures,
// ordered so that one region's tags are contiguous). Tags never contain '|'.
std::string TagRegionSlice(std::string_view tag, std::string_view region);
std::string RegionTagSlice(std::string_view region, std::string_view tag);

}  // namespace streetwise::insights
