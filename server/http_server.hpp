// The HTTP/1.1 listener and per-connection sessions (Boost.Beast), with the resource limits of
// server/config.hpp. Converts Beast messages to api::Request / api::Response.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/error.hpp"
#include "server/config.hpp"

namespace streetwise::api {
class Api;
}

namespace streetwise::server {

class Metrics;

class HttpServer {
 public:
  // `api` and `metrics` must outlive the server. GET /metrics is answered from `metrics`.
  HttpServer(const Config& config, api::Api& api, Metrics& metrics);
  ~HttpServer();

  // Binds the listening socket. Returns the bound port (useful with port 0).
  core::Result<std::uint16_t> Bind();

  // Serves on config.io_threads threads until Shutdown() completes; blocks the caller.
  void Run();

  // Graceful stop: stop accepting, let in-flight requests finish for up to the grace period,
  // then close every connection and return from Run(). Thread-safe; callable from a signal handler
  // context via asio (see main.cpp).
  void Shutdown();

  // Invoked once when SIGTERM/SIGINT arrives (before draining).
  void OnSignal(std::function<void()> f);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace streetwise::server
