#include "api/problem.hpp"

#include <boost/json.hpp>

#include "core/validation.hpp"

namespace streetwise::api {
using core::ErrorCode;

ProblemType ProblemFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return {422, "validation", "Request failed validation"};
    case ErrorCode::kMalformed: return {400, "malformed-request", "Malformed request"};
    case ErrorCode::kInvalidCursor: return {400, "invalid-cursor", "Invalid cursor"};
    case ErrorCode::kNotFound: return {404, "not-found", "Not found"};
    case ErrorCode::kConflict: return {409, "conflict", "Conflict"};
    case ErrorCode::kPreconditionFailed: return {412, "precondition-failed", "Precondition failed"};
    case ErrorCode::kPreconditionRequired: return {428, "precondition-required", "Precondition required"};
    case ErrorCode::kUnauthenticated: return {401, "unauthenticated", "Authentication required"};
    case ErrorCode::kForbidden: return {403, "forbidden", "Forbidden"};
    case ErrorCode::kPayloadTooLarge: return {413, "payload-too-large", "Payload too large"};
    case ErrorCode::kUnsupportedMediaType: return {415, "unsupported-media-type", "Unsupported media type"};
    case ErrorCode::kIdempotencyKeyReused: return {422, "idempotency-key-reused", "Idempotency key reused"};
    case ErrorCode::kUnavailable: return {503, "unavailable", "Service unavailable"};
    case ErrorCode::kInternal: return {500, "internal", "Internal server error"};
  }
  return {500, "internal", "Internal server error"};
}

namespace {

// The members every problem has (`instance` only when not empty). Boost.JSON serialises strings byte for byte, so anything that may
// echo the request goes through the UTF-8 repairs here (the request id is checked by the server:
// [A-Za-z0-9._-] or generated).
boost::json::object ProblemObject(const ProblemType& p, std::string_view detail, std::string_view request_id,
                                  std::string_view instance) {
  boost::json::object o;
  o["type"] = std::string("https://streetwise.invalid/problems/").append(p.slug);
  o["title"] = p.title;
  o["status"] = p.status;
  o["detail"] = core::ToValidUtf8(detail.empty() ? p.title : detail);
  if (!instance.empty()) o["instance"] = core::PercentEscapeInvalidUtf8(instance);
  o["request_id"] = core::ToValidUtf8(request_id);
  return o;
}

Response ProblemResponse(int status, const boost::json::object& o) {
  Response r;
  r.status = status;
  r.content_type = "application/problem+json";
  r.body = boost::json::serialize(o);
  return r;
}

}  // namespace

Response MakeProblem(const core::Error& error, std::string_view request_id, std::string_view instance) {
  ProblemType p = ProblemFor(error.code);
  boost::json::object o = ProblemObject(p, error.detail, request_id, instance);
  if (instance.empty()) o["instance"] = "";  // always present in API problems
  if (!error.fields.empty()) {
    boost::json::array errors;
    for (const auto& f : error.fields) {
      errors.push_back(boost::json::object{{"pointer", core::ToValidUtf8(f.pointer)},
                                           {"detail", core::ToValidUtf8(f.detail)}});
    }
    o["errors"] = std::move(errors);
  }
  Response r = ProblemResponse(p.status, o);
  if (error.code == ErrorCode::kUnauthenticated) {
    r.With("WWW-Authenticate", R"(Bearer realm="streetwise", error="invalid_token")");
  }
  return r;
}

Response MakeProblem(ErrorCode code, std::string detail, std::string_view request_id, std::string_view instance) {
  return MakeProblem(core::Error::Make(code, std::move(detail)), request_id, instance);
}

Response MakeHttpProblem(const ProblemType& type, std::string_view detail, std::string_view request_id,
                         std::string_view instance,
                         std::initializer_list<std::pair<std::string_view, std::int64_t>> extensions) {
  boost::json::object o = ProblemObject(type, detail, request_id, instance);
  for (const auto& [name, value] : extensions) o[name] = value;
  return ProblemResponse(type.status, o);
}

}  // namespace streetwise::api
