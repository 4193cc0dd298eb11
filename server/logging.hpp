// Structured logging: one JSON object per line on stderr.
//
// The default spdlog logger writes {"ts","level","msg"} with the message JSON-escaped; the access
// logger (AccessLog) writes {"ts","level", ...fields} with the fields of one request.
#pragma once

#include <string>
#include <string_view>

namespace streetwise::server {

// Installs both loggers; `level` is trace|debug|info|warn|error. Call once at start-up.
void SetUpLogging(const std::string& level);

// Whether access-log lines are written at the current level (build a line only then).
bool AccessLogEnabled();

// Writes one access-log line; `fields` are the members of a JSON object without the braces
// (`"msg":"request","status":200,...`), already escaped.
void AccessLog(std::string_view fields);

}  // namespace streetwise::server
