// Protocol-level request/response values the API layer works with. The server converts Beast
// messages to and from these, so no Beast type crosses into api/.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace streetwise::api {

struct Request {
  std::string method;  // upper case: "GET", "POST", ...
  std::string target;  // origin-form as received: "/v1/threads?tag=x"
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string request_id;
  std::string remote_address;

  // First header with this (lower-case) name.
  std::optional<std::string_view> Header(std::string_view lower_name) const {
    for (const auto& [k, v] : headers) {
      if (k == lower_name) return std::string_view(v);
    }
    return std::nullopt;
  }
};

// A response body produced piece by piece after the headers (Server-Sent Events). The server
// writes the status and headers, then awaits Next() and writes each piece as one HTTP/1.1 chunk
// until Next() returns nullopt, a write fails or the server shuts down; the connection is closed
// afterwards. Next() is awaited on the session's executor, one call at a time.
class BodyStream {
 public:
  virtual ~BodyStream() = default;
  virtual boost::asio::awaitable<std::optional<std::string>> Next() = 0;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string route;  // the matched route pattern, for metrics and logs ("" when none matched)
  std::shared_ptr<BodyStream> stream;  // when set, `body` is ignored and the body is streamed

  Response& With(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

}  // namespace streetwise::api
