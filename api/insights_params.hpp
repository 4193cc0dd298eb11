// Query parameters and CSV responses shared by the /v1/insights routes.
#pragma once

#include <optional>
#include <string>

#include "api/route_context.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"

namespace streetwise::api {

// The period every insights endpoint takes: `from`/`to` as YYYY-MM-DD or RFC 3339 UTC (`to` as a
// date means the end of that day). Defaults: to = now, from = 30 days before `to`. kMalformed when a
// value does not parse, from > to, or the period is longer than `max_days`.
struct InsightsPeriodParam {
  core::TimePoint from;
  core::TimePoint to;
};
core::Result<InsightsPeriodParam> ParseInsightsPeriod(const Call& call, core::TimePoint now, int max_days = 3660);

// Whether the client asked for CSV (`Accept: text/csv`, not outranked by application/json).
bool WantsCsv(const Call& call);

// A text/csv response (RFC 4180, UTF-8) offered as `<name>.csv`.
Response CsvResponse(std::string body, std::string_view name);

}  // namespace streetwise::api
