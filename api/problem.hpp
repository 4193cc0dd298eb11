// The one table mapping core::ErrorCode to HTTP status and RFC 9457 problem types.
#pragma once

#include <string>
#include <string_view>

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
Response MakeProblem(const core::Error& error, std::string_view request_id, std::string_view instance);

// For errors the HTTP layer finds before routing (e.g. 404 route, 405 method, 413 body).
Response MakeProblem(core::ErrorCode code, std::string detail, std::string_view request_id,
                     std::string_view instance);

}  // namespace streetwise::api
