// The HTTP API: routing, authentication, request parsing and the problem+json edge.
//
// Api::Handle turns one api::Request into one api::Response. It never throws and never returns a
// 5xx for bad input; blocking service calls run on the BlockingPool. Thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <string_view>

#include "api/http_types.hpp"

namespace streetwise::service {
class AccountService;
class ThreadService;
class SearchService;
class ReindexJob;
class BackupService;
class RoutingService;
class NotificationService;
class InsightsService;
}  // namespace streetwise::service
namespace streetwise::notify {
class InboxHub;
}
namespace streetwise::core {
class RateLimiter;
}
namespace streetwise::net {
class BlockingPool;
}

namespace streetwise::api {

class RequestSchemas;

struct ApiDeps {
  service::AccountService* accounts = nullptr;  // non-owning; outlives the Api
  service::ThreadService* threads = nullptr;    // non-owning; outlives the Api
  service::SearchService* search = nullptr;     // non-owning; outlives the Api
  service::ReindexJob* reindex = nullptr;       // non-owning; outlives the Api
  net::BlockingPool* pool = nullptr;            // non-owning; outlives the Api
  const RequestSchemas* schemas = nullptr;      // non-owning; outlives the Api
  std::string root_token;                       // operator token for POST /v1/orgs; empty disables
  const std::atomic<bool>* ready = nullptr;     // /readyz answers 200 while true
  // Optional limiters (nullptr or disabled = no limit): requests per client address, requests per
  // token, and failed authentications per client address (brute-force protection).
  core::RateLimiter* address_limiter = nullptr;
  core::RateLimiter* token_limiter = nullptr;
  core::RateLimiter* auth_failure_limiter = nullptr;
  service::RoutingService* routing = nullptr;  // non-owning; outlives the Api (nullable: no routing routes)
  service::BackupService* backup = nullptr;     // non-owning; outlives the Api; nullptr: no /v1/admin/backup
  // Notifications (nullptr: no /v1/me/notifications*, /v1/webhooks*, /a/*). Non-owning; outlive the Api.
  service::NotificationService* notifications = nullptr;
  notify::InboxHub* inbox_hub = nullptr;        // wakes live notification streams
  std::size_t sse_heartbeat_seconds = 15;       // comment line sent on an idle notification stream
  service::InsightsService* insights = nullptr;  // non-owning; outlives the Api (nullptr: no /v1/insights/summary|experts|gaps)
};

class Api {
 public:
  explicit Api(ApiDeps deps);
  ~Api();
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;

  boost::asio::awaitable<Response> Handle(Request request);

 private:
  // Routes and handles; stores the matched route pattern (static storage) in *matched.
  boost::asio::awaitable<Response> Dispatch(Request request, std::string_view* matched);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace streetwise::api
