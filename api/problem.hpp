// The one table mapping core::ErrorCode to HTTP status and RFC 9457 problem types.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "api/http_types.hpp"
#include "core/error.hpp"

namespace streetwise::api {

struct ProblemType {
  int status;
  std::string_view slug;   // https://streetwise.invalid/problems/<slug>
  std::string_view title;
};

// The mapping for `code`. Total: every ErrorCode has an entry (tests/unit/api checks this).
ProblemType ProblemFor(core::ErrorCode code);

// An application/problem+json response for `error`. `instance` is the request path.
//
// Every problem body is valid UTF-8 JSON whatever the client sent: the detail and the field
// errors come back with ill-formed sequences replaced by U+FFFD (core::ToValidUtf8), the instance
// with their bytes percent-escaped ("/\xff" -> "/%FF", core::PercentEscapeInvalidUtf8), because
// details and paths may echo percent-decoded bytes of the request.
Response MakeProblem(const core::Error& error, std::string_view request_id, std::string_view instance);

// For errors the HTTP layer finds before routing (e.g. 404 route, 405 method, 413 body).
Response MakeProblem(core::ErrorCode code, std::string detail, std::string_view request_id,
                     std::string_view instance);

// A problem of a type that has no ErrorCode: conditions of the HTTP layer itself (405 method not
// allowed, 429 rate limited, and the 400/413/431/501 the server's parser finds before routing).
// `instance` is omitted when empty; `extensions` are integer members added after the standard
// ones (e.g. {"retry_after", 3}). Strings are made valid UTF-8 as in MakeProblem.
Response MakeHttpProblem(const ProblemType& type, std::string_view detail, std::string_view request_id,
                         std::string_view instance,
                         std::initializer_list<std::pair<std::string_view, std::int64_t>> extensions = {});

}  // namespace streetwise::api
