// Protocol-level request/response values the API layer works with. The server converts Beast
// messages to and from these, so no Beast type crosses into api/.
#pragma once

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

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string route;  // the matched route pattern, for metrics and logs ("" when none matched)

  Response& With(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

}  // namespace streetwise::api
