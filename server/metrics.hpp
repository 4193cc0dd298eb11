// Prometheus metrics (prometheus-cpp core; text exposition served at GET /metrics).
//
// Request metrics are recorded by the HTTP session; store and index figures are read at scrape
// time through the gauges' callbacks. Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace streetwise::server {

class Metrics {
 public:
  Metrics();
  ~Metrics();

  // One finished request: `route` is the matched pattern ("/v1/threads/:id"), never the raw path.
  void ObserveRequest(std::string_view method, std::string_view route, int status, double seconds);
  void RequestStarted();
  void RequestFinished();

  // A figure read at scrape time (e.g. index lag). Register before serving.
  void AddGauge(std::string name, std::string help, std::function<double()> read);

  // The text exposition format (Content-Type: text/plain; version=0.0.4).
  std::string Render();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace streetwise::server
