// A minimal blocking HTTP/1.1 client for the CLI's admin commands (reindex, backup against a running
// server). Not for use inside the server.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "core/error.hpp"

namespace streetwise::server {

struct AdminResponse {
  int status = 0;
  std::string body;
};

// Sends one request to host:port with a bearer token and, when `json_body` is not empty, that
// JSON body. `timeout` bounds the whole exchange (connect, send, wait for and read the answer).
// kUnavailable if the server cannot be reached or does not answer in time.
core::Result<AdminResponse> AdminRequest(const std::string& address, const std::string& method,
                                         const std::string& target, const std::string& token,
                                         const std::string& json_body = {},
                                         std::chrono::seconds timeout = std::chrono::seconds(10));

}  // namespace streetwise::server
