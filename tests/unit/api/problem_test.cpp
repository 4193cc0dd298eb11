#include "api/problem.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace streetwise::api {
namespace {
TEST_SUITE_BEGIN("api");
using core::ErrorCode;

// Every ErrorCode from the first (kInvalidArgument) to the last (kInternal). A code added in
// between without a mapping falls through to the 500 fallback and fails the 5xx test below.
std::vector<ErrorCode> AllCodes() {
  std::vector<ErrorCode> out;
  for (int c = static_cast<int>(ErrorCode::kInvalidArgument); c <= static_cast<int>(ErrorCode::kInternal); ++c) {
    out.push_back(static_cast<ErrorCode>(c));
  }
  return out;
}

std::optional<std::string> HeaderOf(const Response& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return std::nullopt;
}

TEST_CASE("Every ErrorCode maps to a 4xx/5xx status with a slug and a title") {
  auto codes = AllCodes();
  REQUIRE(codes.size() >= 14);
  std::set<std::string_view> slugs;
  for (ErrorCode code : codes) {
    CAPTURE(static_cast<int>(code));
    ProblemType p = ProblemFor(code);
    CHECK(p.status >= 400);
    CHECK(p.status <= 599);
    CHECK_FALSE(p.slug.empty());
    CHECK_FALSE(p.title.empty());
    CHECK(p.slug.find_first_of(" /?#") == std::string_view::npos);  // usable as a URL path segment
    slugs.insert(p.slug);
  }
  CHECK(slugs.size() == codes.size());  // each code has its own problem type
}

TEST_CASE("Only kInternal and kUnavailable are server errors") {
  for (ErrorCode code : AllCodes()) {
    CAPTURE(static_cast<int>(code));
    bool server_side = code == ErrorCode::kInternal || code == ErrorCode::kUnavailable;
    CHECK((ProblemFor(code).status >= 500) == server_side);
  }
  CHECK(ProblemFor(ErrorCode::kInternal).status == 500);
  CHECK(ProblemFor(ErrorCode::kUnavailable).status == 503);
}

TEST_CASE("Client error codes map to their documented statuses") {
  CHECK(ProblemFor(ErrorCode::kInvalidArgument).status == 422);
  CHECK(ProblemFor(ErrorCode::kMalformed).status == 400);
  CHECK(ProblemFor(ErrorCode::kInvalidCursor).status == 400);
  CHECK(ProblemFor(ErrorCode::kNotFound).status == 404);
  CHECK(ProblemFor(ErrorCode::kConflict).status == 409);
  CHECK(ProblemFor(ErrorCode::kPreconditionFailed).status == 412);
  CHECK(ProblemFor(ErrorCode::kPreconditionRequired).status == 428);
  CHECK(ProblemFor(ErrorCode::kUnauthenticated).status == 401);
  CHECK(ProblemFor(ErrorCode::kForbidden).status == 403);
  CHECK(ProblemFor(ErrorCode::kPayloadTooLarge).status == 413);
  CHECK(ProblemFor(ErrorCode::kUnsupportedMediaType).status == 415);
  CHECK(ProblemFor(ErrorCode::kIdempotencyKeyReused).status == 422);
}

TEST_CASE("MakeProblem builds an application/problem+json body and never leaks the cause") {
  core::Error error = core::Error::Make(ErrorCode::kInvalidArgument, "tag 'a/b' contains '/'");
  error.fields.push_back({"#/tags/0", "tag 'a/b' contains '/'"});
  error.cause = "SECRET internal cause";
  Response r = MakeProblem(error, "req-123", "/v1/threads");

  CHECK(r.status == 422);
  CHECK(r.content_type == "application/problem+json");
  CHECK_FALSE(HeaderOf(r, "WWW-Authenticate").has_value());
  CHECK(r.body.find("SECRET") == std::string::npos);

  boost::json::object o = boost::json::parse(r.body).as_object();
  CHECK(o.at("type").as_string() == "https://streetwise.invalid/problems/validation");
  CHECK(o.at("status").to_number<int>() == 422);
  CHECK(o.at("title").as_string() == std::string(ProblemFor(ErrorCode::kInvalidArgument).title));
  CHECK(o.at("detail").as_string() == "tag 'a/b' contains '/'");
  CHECK(o.at("instance").as_string() == "/v1/threads");
  CHECK(o.at("request_id").as_string() == "req-123");
  const auto& errors = o.at("errors").as_array();
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].as_object().at("pointer").as_string() == "#/tags/0");
}

TEST_CASE("MakeProblem for an internal error shows the generic detail only") {
  Response r = MakeProblem(core::Error::Internal("rocksdb: IO error: disk full"), "req-1", "/v1/threads/t1");
  CHECK(r.status == 500);
  CHECK(r.content_type == "application/problem+json");
  CHECK(r.body.find("rocksdb") == std::string::npos);
  CHECK(r.body.find("disk full") == std::string::npos);
  boost::json::object o = boost::json::parse(r.body).as_object();
  CHECK_FALSE(o.contains("errors"));
}

TEST_CASE("MakeProblem adds WWW-Authenticate for kUnauthenticated only") {
  Response r = MakeProblem(ErrorCode::kUnauthenticated, "missing token", "req-9", "/v1/threads");
  CHECK(r.status == 401);
  CHECK(r.content_type == "application/problem+json");
  auto challenge = HeaderOf(r, "WWW-Authenticate");
  REQUIRE(challenge.has_value());
  CHECK(challenge->rfind("Bearer", 0) == 0);

  for (ErrorCode code : AllCodes()) {
    if (code == ErrorCode::kUnauthenticated) continue;
    CAPTURE(static_cast<int>(code));
    Response other = MakeProblem(code, "x", "req", "/");
    CHECK(other.content_type == "application/problem+json");
    CHECK(other.status == ProblemFor(code).status);
    CHECK_FALSE(HeaderOf(other, "WWW-Authenticate").has_value());
  }
}

TEST_CASE("MakeProblem falls back to the title when there is no detail") {
  Response r = MakeProblem(ErrorCode::kNotFound, "", "req", "/v1/threads/nope");
  boost::json::object o = boost::json::parse(r.body).as_object();
  CHECK(o.at("detail").as_string() == std::string(ProblemFor(ErrorCode::kNotFound).title));
}

TEST_CASE("Problem bodies are valid UTF-8 JSON even when the request echoed into them is not") {
  // What GET /%FF%E2%82 and a detail quoting a percent-decoded query value produce.
  core::Error error = core::Error::Make(ErrorCode::kNotFound, "no resource at /\xFF\xE2\x82");
  error.fields.push_back({"#/tags/\xC0", "tag '\xED\xA0\x80' is bad"});
  Response r = MakeProblem(error, "req-1", "/\xFF\xE2\x82/ok");
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(r.body, ec);  // strict: rejects invalid UTF-8
  REQUIRE_FALSE(ec);
  const auto& o = v.as_object();
  CHECK(o.at("instance").as_string() == "/%FF%E2%82/ok");
  CHECK(o.at("detail").as_string() == "no resource at /\xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(o.at("errors").as_array()[0].as_object().at("pointer").as_string() == "#/tags/\xEF\xBF\xBD");

  Response h = MakeHttpProblem(ProblemType{405, "method-not-allowed", "Method not allowed"}, "bad \x80",
                               "req-2", "/\x80", {{"retry_after", 3}});
  v = boost::json::parse(h.body, ec);
  REQUIRE_FALSE(ec);
  CHECK(h.status == 405);
  CHECK(h.content_type == "application/problem+json");
  CHECK(v.as_object().at("instance").as_string() == "/%80");
  CHECK(v.as_object().at("retry_after").as_int64() == 3);
}

TEST_CASE("MakeHttpProblem omits an empty instance; MakeProblem always has one") {
  Response h = MakeHttpProblem(ProblemType{431, "header-too-large", "Request header fields too large"}, "too big",
                               "req", "");
  CHECK_FALSE(boost::json::parse(h.body).as_object().contains("instance"));
  Response p = MakeProblem(ErrorCode::kNotFound, "x", "req", "");
  CHECK(boost::json::parse(p.body).as_object().at("instance").as_string() == "");
}

TEST_SUITE_END();

}  // namespace
}  // namespace streetwise::api
