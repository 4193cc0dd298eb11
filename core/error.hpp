// Errors as values at module boundaries.
//
// Every fallible operation that crosses a component boundary returns Result<T>. The ErrorCode is
// protocol-agnostic; api/problem.cpp holds the one table that maps it to HTTP status and an
// RFC 9457 problem type. `detail` is user-facing; `cause` is for the log only and never sent.
#pragma once

#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace streetwise::core {

// Persisted nowhere; numbering is free to change.
enum class ErrorCode {
  kInvalidArgument,       // well-formed request that violates a rule (422)
  kMalformed,             // unparseable input: bad JSON, bad UTF-8, bad query parameter (400)
  kInvalidCursor,         // a cursor that was not issued for this query (400)
  kNotFound,              // unknown id, or an id outside the caller's organisation (404)
  kConflict,              // state conflict, e.g. answering a closed thread (409)
  kPreconditionFailed,    // stale If-Match (412)
  kPreconditionRequired,  // missing If-Match (428)
  kUnauthenticated,       // missing, unknown or revoked credentials (401)
  kForbidden,             // authenticated but not allowed (403)
  kPayloadTooLarge,       // body over the limit (413)
  kUnsupportedMediaType,  // wrong Content-Type (415)
  kIdempotencyKeyReused,  // same Idempotency-Key, different request (422)
  kUnavailable,           // shutting down, storage temporarily failing (503)
  kInternal,              // a bug or an unexpected storage failure (500)
};

// One offending field of a request, addressed by JSON pointer ("#/tags/3").
struct FieldError {
  std::string pointer;
  std::string detail;
};

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string detail;                // safe to show to the client
  std::vector<FieldError> fields;    // optional per-field problems
  std::string cause;                 // internal cause for the log; never sent to clients

  static Error Make(ErrorCode code, std::string detail) { return Error{code, std::move(detail), {}, {}}; }
  static Error Internal(std::string cause) {
    return Error{ErrorCode::kInternal, "internal error", {}, std::move(cause)};
  }
};

// A minimal Result: either a value or an Error. [[nodiscard]] so ignoring one is a warning.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}            // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}        // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return std::get<0>(v_); }
  const Error& error() const { return std::get<1>(v_); }
  Error&& take_error() { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

struct Ok {};
using Status = Result<Ok>;
inline Status OkStatus() { return Ok{}; }

}  // namespace streetwise::core
