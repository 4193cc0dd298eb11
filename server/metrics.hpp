// Prometheus metrics (prometheus-cpp core; text exposition served at GET /metrics).
//
// Request metrics are recorded by the HTTP session; store and index figures are read at scrape
// time through the gauges' callbacks. Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
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

  // A counter family with one label, read at scrape time (totals kept by another component, e.g.
  // delivery attempts per channel): `read` returns (label value, total since start) pairs. Totals
  // must never decrease. `name` ends in "_total". Register before serving.
  using LabelledTotals = std::vector<std::pair<std::string, double>>;
  void AddCounters(std::string name, std::string help, std::string label, std::function<LabelledTotals()> read);

  // The text exposition format (Content-Type: text/plain; version=0.0.4).
  std::string Render();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace streetwise::server
