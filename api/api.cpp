#include "api/api.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <fmt/format.h>

#include <spdlog/spdlog.h>

#include <charconv>

#include "api/problem.hpp"
#include "api/route_context.hpp"
#include "core/crypto.hpp"
#include "core/rate_limiter.hpp"
#include "schemas/openapi.hpp"

namespace streetwise::api {
using core::Error;
using core::ErrorCode;
namespace asio = boost::asio;

std::optional<std::string> Call::Query(std::string_view key) const {
  for (const auto& [k, v] : query) {
    if (k == key) return v;
  }
  return std::nullopt;
}

core::Result<std::optional<std::int64_t>> Call::IntQuery(std::string_view key, std::int64_t min,
                                                         std::int64_t max) const {
  auto raw = Query(key);
  if (!raw) return std::optional<std::int64_t>();
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(raw->data(), raw->data() + raw->size(), v);
  if (ec != std::errc() || p != raw->data() + raw->size() || v < min || v > max) {
    return Error::Make(ErrorCode::kMalformed,
                       fmt::format("{} must be an integer from {} to {}, got '{}'", key, min, max, *raw));
  }
  return std::optional<std::int64_t>(v);
}

core::Result<std::optional<std::uint64_t>> Call::AfterSeq() const {
  auto seq = IntQuery("after_seq", 0, INT64_MAX);
  if (!seq) return seq.take_error();
  if (!*seq) return std::optional<std::uint64_t>();
  return std::optional<std::uint64_t>(static_cast<std::uint64_t>(**seq));
}

std::optional<std::string> OptString(const boost::json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v || !v->is_string()) return std::nullopt;
  return std::string(v->get_string());
}

Response Ctx::Problem(const Call& call, const core::Error& e) const {
  if (ProblemFor(e.code).status >= 500) {
    spdlog::error("request {} {} {} failed: {} ({})", call.req.request_id, call.req.method, call.path, e.detail,
                  e.cause);
  }
  return MakeProblem(e, call.req.request_id, call.path);
}

Response Ctx::Json(int status, const boost::json::value& body) {
  Response r;
  r.status = status;
  r.body = boost::json::serialize(body);
  return r;
}

core::Result<boost::json::value> Ctx::Body(const Call& call, std::string_view schema) const {
  auto ct = call.req.Header("content-type");
  if (!ct) {
    if (call.req.body.empty()) return deps.schemas->Parse("{}", schema);  // no body: an empty object
    return Error::Make(ErrorCode::kUnsupportedMediaType, "send the body with Content-Type: application/json");
  }
  std::string_view media = *ct;
  media = media.substr(0, media.find(';'));
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  std::string lower(media);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower != "application/json") {
    return Error::Make(ErrorCode::kUnsupportedMediaType,
                       fmt::format("Content-Type '{}' is not supported; use application/json", std::string(media)));
  }
  return deps.schemas->Parse(call.req.body, schema);
}

core::Result<std::size_t> Ctx::Limit(const Call& call) const {
  auto n = call.IntQuery("limit", 1, 100);
  if (!n) return n.take_error();
  return static_cast<std::size_t>(n->value_or(20));
}

namespace {

std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    if (path.front() == '/') path.remove_prefix(1);
    auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash);
  }
  return out;
}

// Matches a path's segments against a pattern's (Split once per route); collects ":x" segments
// into params.
bool Match(const std::vector<std::string_view>& pat, const std::vector<std::string_view>& segs,
           std::vector<std::string>& params) {
  if (pat.size() != segs.size()) return false;
  std::vector<std::string> out;
  for (std::size_t i = 0; i < pat.size(); ++i) {
    if (!pat[i].empty() && pat[i].front() == ':') {
      if (segs[i].empty()) return false;
      out.emplace_back(segs[i]);
    } else if (pat[i] != segs[i]) {
      return false;
    }
  }
  params = std::move(out);
  return true;
}

asio::awaitable<Response> Healthz(Ctx&, Call&) { co_return Ctx::Json(200, {{"status", "ok"}}); }

asio::awaitable<Response> Readyz(Ctx& ctx, Call& call) {
  if (ctx.deps.ready && ctx.deps.ready->load()) co_return Ctx::Json(200, {{"status", "ready"}});
  co_return ctx.Problem(call, Error::Make(ErrorCode::kUnavailable, "the server is starting or shutting down"));
}

asio::awaitable<Response> ApiReference(Ctx&, Call&) {
  Response r;
  r.content_type = "text/html; charset=utf-8";
  r.body = std::string(schemas::ApiReferenceHtml());
  co_return r;
}

asio::awaitable<Response> OpenApi(Ctx&, Call&) {
  Response r;
  r.body = std::string(schemas::OpenApiJson());
  co_return r;
}

}  // namespace

struct Api::Impl {
  Ctx ctx;
  std::vector<Route> routes;
  // routes[i].pattern split into segments, once: splitting every pattern per request was ~7% of a
  // cached GET's instructions.
  std::vector<std::vector<std::string_view>> route_segments;
};

Api::Api(ApiDeps deps) : impl_(std::make_unique<Impl>()) {
  impl_->ctx.deps = std::move(deps);
  impl_->routes = {
      {"GET", "/healthz", &Healthz, false},
      {"GET", "/livez", &Healthz, false},
      {"GET", "/readyz", &Readyz, false},
      {"GET", "/v1/openapi.json", &OpenApi, false},
      {"GET", "/docs", &ApiReference, false},
  };
  for (auto& r : AccountRoutes()) impl_->routes.push_back(r);
  // Search routes first: "/v1/threads/similar" must win over "/v1/threads/:id".
  for (auto& r : SearchRoutes()) impl_->routes.push_back(r);
  for (auto& r : ThreadRoutes()) impl_->routes.push_back(r);
  if (impl_->ctx.deps.routing) {
    for (auto& r : RoutingRoutes()) impl_->routes.push_back(r);
  }
  if (impl_->ctx.deps.notifications) {
    for (auto& r : NotifyRoutes()) impl_->routes.push_back(r);
    for (auto& r : AnswerLinkRoutes()) impl_->routes.push_back(r);
  }
  for (auto& r : InsightsTopicsRoutes()) impl_->routes.push_back(r);
  if (impl_->ctx.deps.insights) {
    for (auto& r : InsightsRoutes()) impl_->routes.push_back(r);
  }
  for (auto& r : AdminRoutes()) impl_->routes.push_back(r);
  // Keep last: after every route is in.
  for (const auto& r : impl_->routes) impl_->route_segments.push_back(Split(r.pattern));
}

Api::~Api() = default;

namespace {

// The client's address without the port ("127.0.0.1:5000" -> "127.0.0.1", "[::1]:5" -> "[::1]").
std::string_view ClientAddress(std::string_view remote) {
  auto colon = remote.rfind(':');
  return colon == std::string_view::npos ? remote : remote.substr(0, colon);
}

Response TooManyRequests(const Call& call, std::int64_t retry_after, std::string_view what) {
  static constexpr ProblemType kRateLimited{429, "rate-limited", "Too many requests"};
  Response r = MakeHttpProblem(kRateLimited, fmt::format("{}; retry after {} s", what, retry_after),
                               call.req.request_id, call.path, {{"retry_after", retry_after}});
  r.With("Retry-After", std::to_string(retry_after));
  return r;
}

}  // namespace

asio::awaitable<Response> Api::Handle(Request request) {
  std::string_view matched;
  Response resp = co_await Dispatch(std::move(request), &matched);
  resp.route = std::string(matched);  // also on early errors (401, 429), so metrics see the route
  co_return resp;
}

asio::awaitable<Response> Api::Dispatch(Request request, std::string_view* matched) {
  Ctx& ctx = impl_->ctx;
  Call call{request, {}, {}, {}, std::nullopt};
  auto parsed = boost::urls::parse_origin_form(request.target);
  if (!parsed) {
    call.path = request.target.substr(0, request.target.find('?'));
    co_return ctx.Problem(call, Error::Make(ErrorCode::kMalformed,
                                            fmt::format("the request target is not a valid URL: {}",
                                                        parsed.error().message())));
  }
  boost::urls::url_view url = *parsed;
  std::vector<std::string> decoded_segments;
  for (auto seg : url.segments()) decoded_segments.push_back(seg);
  call.path = "/";
  for (std::size_t i = 0; i < decoded_segments.size(); ++i) {
    if (i) call.path += '/';
    call.path += decoded_segments[i];
  }
  for (auto param : url.params()) call.query.emplace_back(param.key, param.value);
  std::vector<std::string_view> segs(decoded_segments.begin(), decoded_segments.end());

  const Route* route = nullptr;
  std::string allowed;
  for (std::size_t i = 0; i < impl_->routes.size(); ++i) {
    const Route& r = impl_->routes[i];
    std::vector<std::string> params;
    if (!Match(impl_->route_segments[i], segs, params)) continue;
    if (r.method == request.method || (r.method == "GET" && request.method == "HEAD")) {
      route = &r;
      call.params = std::move(params);
      break;
    }
    if (!allowed.empty()) allowed += ", ";
    allowed += r.method;
  }
  if (!route) {
    if (!allowed.empty()) {
      // 405 is an HTTP-level condition without an ErrorCode.
      static constexpr ProblemType kMethodNotAllowed{405, "method-not-allowed", "Method not allowed"};
      Response r = MakeHttpProblem(
          kMethodNotAllowed, fmt::format("{} is not allowed on {}; allowed: {}", request.method, call.path, allowed),
          request.request_id, call.path.empty() ? "/" : call.path);
      r.With("Allow", allowed);
      co_return r;
    }
    co_return ctx.Problem(call, Error::Make(ErrorCode::kNotFound, fmt::format("no resource at {}", call.path)));
  }
  *matched = route->pattern;

  if (ctx.deps.address_limiter && route->authenticated) {
    if (auto wait = ctx.deps.address_limiter->Acquire(ClientAddress(request.remote_address))) {
      co_return TooManyRequests(call, wait, "too many requests from this address");
    }
  }
  if (route->authenticated) {
    auto auth = request.Header("authorization");
    std::string_view token;
    if (auth && auth->size() > 7 && (auth->substr(0, 7) == "Bearer " || auth->substr(0, 7) == "bearer ")) {
      token = auth->substr(7);
      while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
      while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
    }
    if (token.empty()) {
      co_return ctx.Problem(call, Error::Make(ErrorCode::kUnauthenticated,
                                              "send an API token as 'Authorization: Bearer <token>'"));
    }
    bool is_root = !ctx.deps.root_token.empty() && core::ConstantTimeEquals(token, ctx.deps.root_token);
    bool operator_route = route->pattern == "/v1/orgs" || route->pattern.starts_with("/v1/admin/");
    if (is_root) {
      if (operator_route) {
        Response resp = co_await route->handler(ctx, call);
        resp.With("Cache-Control", "private, no-cache");
        resp.With("Vary", "Authorization");
        co_return resp;
      }
      co_return ctx.Problem(call, Error::Make(ErrorCode::kForbidden,
                                              "the operator root token can only create organisations and run admin jobs"));
    }
    if (operator_route) {
      co_return ctx.Problem(call, Error::Make(ErrorCode::kForbidden, "this operation needs the operator root token"));
    }
    std::string bearer(token);
    // Point reads (memtable / block cache) run inline; only commits go to the blocking pool.
    auto caller = ctx.deps.accounts->Authenticate(bearer);
    if (!caller) {
      if (ctx.deps.auth_failure_limiter && caller.error().code == ErrorCode::kUnauthenticated) {
        if (auto wait = ctx.deps.auth_failure_limiter->Acquire(ClientAddress(request.remote_address))) {
          co_return TooManyRequests(call, wait, "too many failed authentications from this address");
        }
      }
      co_return ctx.Problem(call, caller.error());
    }
    call.caller = std::move(caller).value();
    if (ctx.deps.token_limiter) {
      if (auto wait = ctx.deps.token_limiter->Acquire(call.caller->token_id)) {
        co_return TooManyRequests(call, wait, "too many requests with this token");
      }
    }
  }
  Response resp = co_await route->handler(ctx, call);
  if (route->authenticated) {
    resp.With("Cache-Control", "private, no-cache");
    resp.With("Vary", "Authorization");
  }
  co_return resp;
}

}  // namespace streetwise::api

#include <boost/url/url.hpp>

#include "core/cursor.hpp"

namespace streetwise::api {

core::Result<std::optional<std::string>> CursorParam(const Call& call, std::string_view fingerprint) {
  auto raw = call.Query("cursor");
  if (!raw) return std::optional<std::string>();
  auto key = core::DecodeCursor(*raw, fingerprint);
  if (!key) return key.take_error();
  return std::optional<std::string>(std::move(key).value());
}

Response PageResponse(const Call& call, boost::json::array items, const std::optional<std::string>& next_key,
                      std::string_view fingerprint) {
  boost::json::object o;
  o["items"] = std::move(items);
  return PageResponse(call, std::move(o), next_key, fingerprint);
}

Response PageResponse(const Call& call, boost::json::object o, const std::optional<std::string>& next_key,
                      std::string_view fingerprint) {
  Response r;
  if (next_key) {
    std::string cursor = core::EncodeCursor(fingerprint, *next_key);
    o["next_cursor"] = cursor;
    boost::urls::url next;
    next.set_path(call.path);
    for (const auto& [k, v] : call.query) {
      if (k != "cursor") next.params().append({k, v});
    }
    next.params().append({"cursor", cursor});
    r.With("Link", fmt::format("<{}>; rel=\"next\"", std::string(next.buffer())));
  } else {
    o["next_cursor"] = nullptr;
  }
  r.status = 200;
  r.body = boost::json::serialize(o);
  return r;
}

}  // namespace streetwise::api
