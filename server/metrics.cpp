#include "server/metrics.hpp"

#include <prometheus/check_names.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <mutex>
#include <stdexcept>
#include <sstream>
#include <unordered_map>

namespace streetwise::server {

struct Metrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Histogram>& duration =
      prometheus::BuildHistogram()
          .Name("http_server_request_duration_seconds")
          .Help("Duration of HTTP requests by method, route pattern and status")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& requests = prometheus::BuildCounter()
                                                          .Name("http_server_requests_total")
                                                          .Help("HTTP requests by method, route pattern and status")
                                                          .Register(*registry);
  prometheus::Gauge& active = prometheus::BuildGauge()
                                  .Name("http_server_active_requests")
                                  .Help("Requests being handled")
                                  .Register(*registry)
                                  .Add({});

  std::mutex gauges_mu;
  struct Sampled {
    prometheus::Gauge* gauge;
    std::function<double()> read;
  };
  std::vector<Sampled> gauges;
  struct SampledCounters {
    std::string name, help, label;
    std::function<LabelledTotals()> read;
  };
  std::vector<SampledCounters> counters;  // guarded by gauges_mu

  // Family::Add builds label maps and locks per call; cache the children by key instead.
  struct Children {
    prometheus::Histogram* duration;
    prometheus::Counter* requests;
  };
  std::mutex children_mu;
  std::unordered_map<std::string, Children> children;

  Children& ChildrenFor(std::string_view method, std::string_view route, int status) {
    std::string key = std::string(method) + ' ' + std::string(route) + ' ' + std::to_string(status);
    std::lock_guard lock(children_mu);
    auto it = children.find(key);
    if (it != children.end()) return it->second;
    prometheus::Labels labels{{"http_request_method", std::string(method)},
                              {"http_route", std::string(route)},
                              {"http_response_status_code", std::to_string(status)}};
    static const prometheus::Histogram::BucketBoundaries kBuckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                                  0.1,    0.25,  0.5,    1,     2.5,  5,     10};
    Children c{&duration.Add(labels, kBuckets), &requests.Add(labels)};
    return children.emplace(std::move(key), c).first->second;
  }
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}
Metrics::~Metrics() = default;

void Metrics::ObserveRequest(std::string_view method, std::string_view route, int status, double seconds) {
  auto& c = impl_->ChildrenFor(method, route, status);
  c.duration->Observe(seconds);
  c.requests->Increment();
}

void Metrics::RequestStarted() { impl_->active.Increment(); }
void Metrics::RequestFinished() { impl_->active.Decrement(); }

void Metrics::AddCounters(std::string name, std::string help, std::string label,
                          std::function<LabelledTotals()> read) {
  // As prometheus-cpp's builders do for the families they register.
  if (!prometheus::CheckMetricName(name) || !name.ends_with("_total") || !prometheus::CheckLabelName(label)) {
    throw std::invalid_argument("invalid counter family " + name + "{" + label + "}");
  }
  std::lock_guard lock(impl_->gauges_mu);
  impl_->counters.push_back({std::move(name), std::move(help), std::move(label), std::move(read)});
}

void Metrics::AddGauge(std::string name, std::string help, std::function<double()> read) {
  std::lock_guard lock(impl_->gauges_mu);
  auto& family = prometheus::BuildGauge().Name(std::move(name)).Help(std::move(help)).Register(*impl_->registry);
  impl_->gauges.push_back({&family.Add({}), std::move(read)});
}

std::string Metrics::Render() {
  std::vector<prometheus::MetricFamily> families;
  {
    std::lock_guard lock(impl_->gauges_mu);
    for (auto& g : impl_->gauges) g.gauge->Set(g.read());
    families = impl_->registry->Collect();
    // A prometheus::Counter only increments, so totals kept elsewhere become families here.
    for (const auto& c : impl_->counters) {
      prometheus::MetricFamily family{c.name, c.help, prometheus::MetricType::Counter, {}};
      for (auto& [value, total] : c.read()) {
        prometheus::ClientMetric m;
        m.label.push_back({c.label, std::move(value)});
        m.counter.value = total;
        family.metric.push_back(std::move(m));
      }
      families.push_back(std::move(family));
    }
  }
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

}  // namespace streetwise::server
