// A minimal blocking HTTP/1.1 client for the CLI's admin commands (reindex against a running
// server). Not for use inside the server.
#pragma once

#include <cstdint>
#include <string>

#include "core/error.hpp"

namespace streetwise::server {

struct AdminResponse {
  int status = 0;
  std::string body;
};

// Sends one request to host:port with a bearer token; kUnavailable if the server cannot be reached.
core::Result<AdminResponse> AdminRequest(const std::string& address, const std::string& method,
                                         const std::string& target, const std::string& token);

}  // namespace streetwise::server
