#include "api/problem.hpp"

#include <boost/json.hpp>

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

Response MakeProblem(const core::Error& error, std::string_view request_id, std::string_view instance) {
  ProblemType p = ProblemFor(error.code);
  boost::json::object o;
  o["type"] = std::string("https://streetwise.invalid/problems/").append(p.slug);
  o["title"] = p.title;
  o["status"] = p.status;
  o["detail"] = error.detail.empty() ? std::string(p.title) : error.detail;
  o["instance"] = instance;
  o["request_id"] = request_id;
  if (!error.fields.empty()) {
    boost::json::array errors;
    for (const auto& f : error.fields) errors.push_back(boost::json::object{{"pointer", f.pointer}, {"detail", f.detail}});
    o["errors"] = std::move(errors);
  }
  Response r;
  r.status = p.status;
  r.content_type = "application/problem+json";
  r.body = boost::json::serialize(o);
  if (error.code == ErrorCode::kUnauthenticated) {
    r.With("WWW-Authenticate", R"(Bearer realm="streetwise", error="invalid_token")");
  }
  return r;
}

Response MakeProblem(ErrorCode code, std::string detail, std::string_view request_id, std::string_view instance) {
  return MakeProblem(core::Error::Make(code, std::move(detail)), request_id, instance);
}

}  // namespace streetwise::api
