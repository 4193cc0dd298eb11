// Request bodies: strict JSON parsing plus validation against the request schemas of
// schemas/openapi.yaml (valijson, draft-7), so the published contract is what the server enforces.
#pragma once

#include <boost/json/fwd.hpp>

#include <memory>
#include <string_view>

#include "core/error.hpp"

namespace streetwise::api {

class RequestSchemas {
 public:
  // Builds a validator for each request schema named in kRequestSchemaNames from the OpenAPI
  // document. Throws std::runtime_error if the document or a schema is broken (fatal at start-up).
  explicit RequestSchemas(std::string_view openapi_json);
  ~RequestSchemas();
  RequestSchemas(const RequestSchemas&) = delete;
  RequestSchemas& operator=(const RequestSchemas&) = delete;

  // Parses `body` (max nesting 20, strict UTF-8) and validates it against `schema_name`.
  // kMalformed for bytes that are not JSON (with the parser's position), kInvalidArgument with one
  // FieldError per violated rule (JSON pointer + message) for JSON that breaks the schema.
  // Thread-safe.
  core::Result<boost::json::value> Parse(std::string_view body, std::string_view schema_name) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace streetwise::api
