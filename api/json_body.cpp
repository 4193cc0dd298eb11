#include "api/json_body.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>
#include <valijson/adapters/boost_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include <map>
#include <stdexcept>

#include "core/validation.hpp"

namespace streetwise::api {
using core::Error;
using core::ErrorCode;

namespace {

constexpr std::string_view kRequestSchemaNames[] = {
    "NewOrg", "NewUser", "TokenRequest", "NewThread", "ThreadPatch", "NewAnswer", "NewComment", "AcceptAnswer", "Vote",
    "SimilarRequest", "SuggestionResolution", "ExpertiseInput", "RoutingSettingsInput", "DeclineRequest", "BackupRequest",
    "NotificationSettingsInput", "NewWebhook", "DigestSubscriptionInput",
};

// valijson context entries look like "<root>", "[title]", "[tags]", "[3]": turn them into a JSON
// pointer "#/title", "#/tags/3".
std::string ToPointer(const std::vector<std::string>& context) {
  std::string out = "#";
  for (const auto& part : context) {
    if (part == "<root>") continue;
    std::string_view p(part);
    if (p.size() >= 2 && p.front() == '[' && p.back() == ']') p = p.substr(1, p.size() - 2);
    if (p.size() >= 2 && p.front() == '"' && p.back() == '"') p = p.substr(1, p.size() - 2);
    out.push_back('/');
    out.append(p);
  }
  return out;
}

// valijson reports a wrapper line for every level above a failure; only the leaves say what is wrong.
bool IsWrapper(const std::string& description) {
  return description.starts_with("Failed to validate against schema associated with property") ||
         description.starts_with("Failed to validate item #") ||
         description.starts_with("Failed to validate against child schema") ||
         description.starts_with("Failed to validate against schema");
}

}  // namespace

struct RequestSchemas::Impl {
  std::map<std::string, std::unique_ptr<valijson::Schema>, std::less<>> schemas;
};

RequestSchemas::RequestSchemas(std::string_view openapi_json) : impl_(std::make_unique<Impl>()) {
  boost::json::value doc = boost::json::parse(openapi_json);
  const auto& components = doc.at("components");
  for (auto name : kRequestSchemaNames) {
    // A root {"$ref": "#/components/schemas/<Name>"} beside the components resolves nested refs too.
    boost::json::value root = boost::json::object{{"$ref", fmt::format("#/components/schemas/{}", name)},
                                                  {"components", components}};
    auto schema = std::make_unique<valijson::Schema>();
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    valijson::adapters::BoostJsonAdapter adapter(root);
    try {
      parser.populateSchema(adapter, *schema);
    } catch (const std::exception& e) {
      throw std::runtime_error(fmt::format("request schema {} is invalid: {}", name, e.what()));
    }
    impl_->schemas.emplace(std::string(name), std::move(schema));
  }
}

RequestSchemas::~RequestSchemas() = default;

core::Result<boost::json::value> RequestSchemas::Parse(std::string_view body, std::string_view schema_name) const {
  auto it = impl_->schemas.find(schema_name);
  if (it == impl_->schemas.end()) return Error::Internal(fmt::format("no request schema {}", schema_name));
  if (!core::IsValidUtf8(body)) {
    return Error::Make(ErrorCode::kMalformed, "the request body is not valid UTF-8");
  }
  boost::json::parse_options opts;
  opts.max_depth = 20;
  boost::system::error_code ec;
  boost::json::stream_parser parser({}, opts);
  std::size_t consumed = parser.write_some(body.data(), body.size(), ec);
  if (!ec) parser.finish(ec);
  if (ec) {
    if (body.empty()) return Error::Make(ErrorCode::kMalformed, "the request body is empty; a JSON object is expected");
    return Error::Make(ErrorCode::kMalformed,
                       fmt::format("the request body is not valid JSON: {} (near byte {})", ec.message(), consumed));
  }
  boost::json::value value = parser.release();

  valijson::Validator validator;
  valijson::ValidationResults results;
  valijson::adapters::BoostJsonAdapter target(value);
  bool ok = false;
  try {
    ok = validator.validate(*it->second, target, &results);
  } catch (const std::exception& e) {
    // valijson throws on some type mismatches instead of reporting them; it is still bad input.
    return Error::Make(ErrorCode::kInvalidArgument, fmt::format("the request body does not match the {} schema: {}",
                                                                schema_name, e.what()));
  }
  if (ok) return value;
  Error err = Error::Make(ErrorCode::kInvalidArgument, "");
  valijson::ValidationResults::Error e;
  while (results.popError(e)) {
    if (IsWrapper(e.description)) continue;
    err.fields.push_back({ToPointer(e.context), e.description});
  }
  if (err.fields.empty()) err.fields.push_back({"#", fmt::format("the body does not match the {} schema", schema_name)});
  err.detail = err.fields.size() == 1
                   ? fmt::format("{}: {}", err.fields[0].pointer, err.fields[0].detail)
                   : fmt::format("{} problems; first: {}: {}", err.fields.size(), err.fields[0].pointer,
                                 err.fields[0].detail);
  return err;
}

}  // namespace streetwise::api
