// Internal to api/: what a route handler receives and the helpers handlers share.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "api/api.hpp"
#include "api/http_types.hpp"
#include "api/json_body.hpp"
#include "core/error.hpp"
#include "net/blocking_pool.hpp"
#include "service/account_service.hpp"
#include "service/thread_service.hpp"

namespace streetwise::api {

// One request being handled: parsed path parameters and query, the authenticated caller.
struct Call {
  const Request& req;
  std::string path;                                          // decoded path
  std::vector<std::string> params;                           // ":id" segments in order
  std::vector<std::pair<std::string, std::string>> query;    // decoded, repeated keys kept
  std::optional<service::Caller> caller;                     // set for authenticated routes

  const service::Caller& Who() const { return *caller; }
  // First value of a query parameter.
  std::optional<std::string> Query(std::string_view key) const;
  // An integer query parameter in [min, max]: nullopt when absent; a kMalformed error naming the
  // parameter and the range otherwise.
  core::Result<std::optional<std::int64_t>> IntQuery(std::string_view key, std::int64_t min, std::int64_t max) const;
  // `after_seq` (read-your-writes): a change-log seq to wait for, at most kMaxReadYourWritesWait.
  core::Result<std::optional<std::uint64_t>> AfterSeq() const;
};

// How long a read with `after_seq` waits for the index or the rollups to reach that seq.
inline constexpr std::chrono::milliseconds kMaxReadYourWritesWait{2000};

// Shared state and helpers for route handlers.
struct Ctx {
  ApiDeps deps;
  std::mutex idempotency_mu;
  std::set<std::string> idempotency_in_flight;  // org/user/key_hash currently being created

  Response Problem(const Call& call, const core::Error& e) const;
  // A JSON response; 2xx to authenticated callers get no-store caching headers.
  static Response Json(int status, const boost::json::value& body);
  // Parses and validates the request body against a request schema; checks the Content-Type.
  core::Result<boost::json::value> Body(const Call& call, std::string_view schema) const;
  // limit=1..100 (default 20).
  core::Result<std::size_t> Limit(const Call& call) const;
};

using Handler = boost::asio::awaitable<Response> (*)(Ctx&, Call&);

struct Route {
  std::string_view method;
  std::string_view pattern;  // "/v1/threads/:id/answers"
  Handler handler;
  bool authenticated = true;
};

// Route tables of each resource file.
std::vector<Route> AccountRoutes();
std::vector<Route> ThreadRoutes();
std::vector<Route> SearchRoutes();
std::vector<Route> RoutingRoutes();
std::vector<Route> NotifyRoutes();      // /v1/me/notifications*, /v1/me/notification-settings, /v1/webhooks*
std::vector<Route> AnswerLinkRoutes();  // /a/{token}: HTML, unauthenticated (the token is the credential)
std::vector<Route> InsightsRoutes();  // /v1/insights/summary|experts|gaps|digest*, /v1/me/insights-digest
std::vector<Route> InsightsTopicsRoutes();  // /v1/insights/topics|trending (from the search index)
std::vector<Route> AdminRoutes();  // /v1/admin/backup (reindex is in SearchRoutes)

// Adds X-Change-Seq to a write response.
inline Response WithSeq(Response r, std::uint64_t seq) {
  r.With("X-Change-Seq", std::to_string(seq));
  return r;
}

// Reads optional string members from a validated body.
std::optional<std::string> OptString(const boost::json::object& o, std::string_view key);

}  // namespace streetwise::api

namespace streetwise::api {

// The `cursor` query parameter decoded for a query with this fingerprint (nullopt when absent).
core::Result<std::optional<std::string>> CursorParam(const Call& call, std::string_view fingerprint);

// `{items, next_cursor}` plus a `Link: <...>; rel="next"` header when there is a next page.
Response PageResponse(const Call& call, boost::json::array items, const std::optional<std::string>& next_key,
                      std::string_view fingerprint);
// The same for an answer with its own envelope: `body` plus `next_cursor` (and the `Link` header).
Response PageResponse(const Call& call, boost::json::object body, const std::optional<std::string>& next_key,
                      std::string_view fingerprint);

}  // namespace streetwise::api
