// Request bodies: bytes -> api::RequestSchemas::Parse (strict JSON + the embedded OpenAPI request
// schemas) -> the core validators the services apply to accepted bodies.
//
// Input: "<SchemaName>\n<body>" (the seeds' readable form), or else the first byte picks the
// schema (modulo the number of request schemas, in name order) and the rest is the body.
// Properties: no crash or sanitizer report; a rejection is kMalformed or kInvalidArgument (never
// kInternal) and renders as a 4xx problem+json that parses back; an accepted body is an object
// whose serialisation parses back.
#include <boost/json.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "api/json_body.hpp"
#include "api/problem.hpp"
#include "core/validation.hpp"
#include "fuzz_support.hpp"
#include "schemas/openapi.hpp"

namespace {
using namespace streetwise;

const api::RequestSchemas& Schemas() {
  static const auto* schemas = new api::RequestSchemas(schemas::OpenApiJson());
  return *schemas;
}

// The request schemas: every component schema of the OpenAPI document that RequestSchemas has a
// validator for (the others answer kInternal "no request schema"), sorted by name so an input's
// first byte keeps meaning the same schema.
const std::vector<std::string>& SchemaNames() {
  static const auto* names = [] {
    auto* out = new std::vector<std::string>();
    auto doc = boost::json::parse(schemas::OpenApiJson());
    for (const auto& [name, schema] : doc.at("components").at("schemas").as_object()) {
      auto r = Schemas().Parse("{}", name);
      if (r || r.error().code != core::ErrorCode::kInternal) out->emplace_back(name);
    }
    std::sort(out->begin(), out->end());
    if (out->empty()) fuzz::Fail("no request schemas found");
    return out;
  }();
  return *names;
}

void CheckProblem(const core::Error& e) {
  FUZZ_CHECK(e.code == core::ErrorCode::kMalformed || e.code == core::ErrorCode::kInvalidArgument, e.detail);
  FUZZ_CHECK(!e.detail.empty(), "empty detail");
  for (const auto& f : e.fields) FUZZ_CHECK(f.pointer.starts_with("#"), f.pointer);
  api::Response r = api::MakeProblem(e, "req-1", "/v1/things");
  FUZZ_CHECK(r.status >= 400 && r.status < 500, r.body);
  boost::system::error_code ec;
  auto v = boost::json::parse(r.body, ec);
  FUZZ_CHECK(!ec && v.is_object(), r.body);
}

// What the services do with the string fields of an accepted body.
void RunCoreValidators(const boost::json::object& o) {
  if (auto* t = o.if_contains("title"); t && t->is_string()) {
    auto title = core::NormaliseTitle(t->get_string());
    if (title) {
      FUZZ_CHECK(core::IsValidUtf8(*title), *title);
      FUZZ_CHECK(core::CountCodePoints(*title) <= core::kMaxTitleChars, *title);
    }
  }
  if (auto* tags = o.if_contains("tags"); tags && tags->is_array()) {
    std::vector<std::string> raw;
    for (const auto& t : tags->get_array()) {
      if (t.is_string()) raw.emplace_back(t.get_string());
    }
    auto norm = core::NormaliseTags(raw);
    if (norm) {
      FUZZ_CHECK(norm->size() <= core::kMaxTags, "too many tags");
      for (const auto& t : *norm) {
        auto again = core::NormaliseTag(t);  // normalisation is idempotent
        FUZZ_CHECK(again && *again == t, t);
      }
    }
  }
  for (const char* field : {"body", "name", "admin_name"}) {
    if (auto* b = o.if_contains(field); b && b->is_string()) {
      (void)core::CheckBodySize(b->get_string(), core::kMaxBodyBytes, field, true);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  SchemaNames();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto& names = SchemaNames();
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string_view schema, body;
  if (auto nl = in.find('\n'); nl != std::string_view::npos &&
                               std::find(names.begin(), names.end(), in.substr(0, nl)) != names.end()) {
    schema = in.substr(0, nl);
    body = in.substr(nl + 1);
  } else {
    schema = names[data[0] % names.size()];
    body = in.substr(1);
  }
  auto parsed = Schemas().Parse(body, schema);
  if (!parsed) {
    CheckProblem(parsed.error());
    return 0;
  }
  const boost::json::value& v = *parsed;
  FUZZ_CHECK(v.is_object(), boost::json::serialize(v));
  std::string out = boost::json::serialize(v);
  boost::system::error_code ec;
  auto back = boost::json::parse(out, ec);
  FUZZ_CHECK(!ec && back.is_object(), out);  // not ==: Boost.JSON 1.81 may round a double by 1 ulp
  RunCoreValidators(v.get_object());
  return 0;
}
