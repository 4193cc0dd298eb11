// Structured logging: one JSON object per line on stderr.
//
// The default spdlog logger writes {"ts","level","msg"} with the message JSON-escaped; the access
// logger (AccessLog) writes {"ts","level", ...fields} with the fields of one request.
#pragma once

#include <boost/json/object.hpp>

#include <string>

namespace streetwise::server {

// Installs both loggers; `level` is trace|debug|info|warn|error. Call once at start-up.
void SetUpLogging(const std::string& level);

// Writes one access-log line with the given fields.
void AccessLog(const boost::json::object& fields);

}  // namespace streetwise::server
