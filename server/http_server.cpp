#include "server/http_server.hpp"

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <thread>
#include <vector>

#include "api/api.hpp"
#include "api/problem.hpp"
#include "core/crypto.hpp"
#include "server/logging.hpp"
#include "server/metrics.hpp"

namespace streetwise::server {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

std::string NewRequestId() {
  std::string raw = core::RandomBytes(8);
  std::string out;
  for (unsigned char c : raw) fmt::format_to(std::back_inserter(out), "{:02x}", c);
  return out;
}

// Accepts a client-supplied X-Request-Id only if it is short and harmless in logs.
bool IsSafeRequestId(std::string_view id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

// The target without its query, and with the credential of an answer link (/a/<token>) masked:
// tokens never go to logs.
std::string LoggedTarget(std::string_view target) {
  target = target.substr(0, target.find('?'));
  if (target.starts_with("/a/")) return "/a/<token>";
  return std::string(target);
}

}  // namespace

struct HttpServer::Impl {
  Config config;
  api::Api& api;
  Metrics& metrics;
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  asio::signal_set signals{ioc, SIGINT, SIGTERM};
  std::atomic<std::size_t> connections{0};
  std::atomic<std::size_t> in_flight{0};
  std::atomic<bool> stopping{false};
  std::function<void()> on_signal;

  Impl(const Config& c, api::Api& a, Metrics& m) : config(c), api(a), metrics(m) {}

  void LogAccess(const api::Request& req, int status, std::size_t bytes, Clock::time_point start) {
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    boost::json::object line{{"msg", "request"},
                             {"request_id", req.request_id},
                             {"method", req.method},
                             {"target", LoggedTarget(req.target)},
                             {"status", status},
                             {"response_bytes", bytes},
                             {"duration_ms", std::round(ms * 1000) / 1000},
                             {"remote", req.remote_address}};
    AccessLog(line);
  }

  static http::response<http::string_body> ToBeast(api::Response&& r, unsigned version, bool keep_alive,
                                                   const std::string& request_id) {
    http::response<http::string_body> res{static_cast<http::status>(r.status), version};
    res.set(http::field::server, "streetwise");
    if (!r.content_type.empty()) res.set(http::field::content_type, r.content_type);
    for (auto& [k, v] : r.headers) res.insert(k, v);
    res.set("X-Request-Id", request_id);
    res.keep_alive(keep_alive);
    if (r.status != 204 && r.status != 304) res.body() = std::move(r.body);
    res.prepare_payload();
    return res;
  }

  // Answers a request the parser rejected before it reached the API (413, 431, 400).
  asio::awaitable<void> SendEarlyError(beast::tcp_stream& stream, int status, std::string_view slug,
                                       std::string_view title, std::string detail) {
    std::string id = NewRequestId();
    boost::json::object o{{"type", fmt::format("https://streetwise.invalid/problems/{}", slug)},
                          {"title", title},
                          {"status", status},
                          {"detail", detail},
                          {"request_id", id}};
    api::Response r;
    r.status = status;
    r.content_type = "application/problem+json";
    r.body = boost::json::serialize(o);
    auto res = ToBeast(std::move(r), 11, false, id);
    stream.expires_after(std::chrono::seconds(5));
    co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
  }

  // Writes a streamed response (api::BodyStream, e.g. Server-Sent Events): the header, then one
  // chunk per piece. The request counts as finished once the header is written, so a long-lived
  // stream never holds up a graceful drain; the stream ends when the producer does, a write fails
  // (the client left) or the server is stopping.
  asio::awaitable<void> Stream(beast::tcp_stream& stream, api::Response resp, unsigned version, bool head,
                               const api::Request& logged, Clock::time_point start) {
    http::response<http::empty_body> res{static_cast<http::status>(resp.status), version};
    res.set(http::field::server, "streetwise");
    if (!resp.content_type.empty()) res.set(http::field::content_type, resp.content_type);
    for (auto& [k, v] : resp.headers) res.insert(k, v);
    res.set("X-Request-Id", logged.request_id);
    res.keep_alive(false);
    res.chunked(true);
    http::response_serializer<http::empty_body> sr(res);
    stream.expires_after(std::chrono::seconds(config.request_timeout_seconds));
    auto [ec, n] = co_await http::async_write_header(stream, sr, asio::as_tuple(asio::use_awaitable));
    in_flight.fetch_sub(1);
    metrics.RequestFinished();
    metrics.ObserveRequest(logged.method, resp.route.empty() ? "unmatched" : resp.route, resp.status,
                           std::chrono::duration<double>(Clock::now() - start).count());
    LogAccess(logged, resp.status, 0, start);
    if (ec || head) co_return;
    auto body = std::move(resp.stream);
    for (;;) {
      stream.expires_never();  // waiting for the next piece is not a client timeout
      std::optional<std::string> piece;
      try {
        piece = co_await body->Next();
      } catch (const std::exception& e) {
        spdlog::warn("stream for request {} ended: {}", logged.request_id, e.what());
      }
      if (!piece || stopping.load()) break;
      stream.expires_after(std::chrono::seconds(config.request_timeout_seconds));
      std::tie(ec, n) = co_await asio::async_write(stream, http::make_chunk(asio::buffer(*piece)),
                                                   asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
    }
    stream.expires_after(std::chrono::seconds(5));
    co_await asio::async_write(stream, http::make_chunk_last(), asio::as_tuple(asio::use_awaitable));
  }

  asio::awaitable<void> Session(beast::tcp_stream stream) {
    beast::flat_buffer buffer;
    std::string remote;
    {
      boost::system::error_code ec;
      auto ep = stream.socket().remote_endpoint(ec);
      if (!ec) remote = fmt::format("{}:{}", ep.address().to_string(), ep.port());
    }
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(config.max_header_bytes));
      parser.body_limit(config.max_body_bytes);
      // One deadline covers the whole request read (headers and body): a slow client cannot hold
      // the connection longer than this. Between requests the idle timeout applies.
      stream.expires_after(std::chrono::seconds(buffer.size() > 0 ? config.request_timeout_seconds
                                                                  : config.idle_timeout_seconds));
      auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
      if (!ec && !parser.is_done()) {
        stream.expires_after(std::chrono::seconds(config.request_timeout_seconds));
        std::tie(ec, n) = co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
      }
      if (ec == http::error::end_of_stream || ec == asio::error::connection_reset || ec == beast::error::timeout ||
          ec == asio::error::operation_aborted || ec == asio::error::eof) {
        break;
      }
      if (ec == http::error::body_limit) {
        co_await SendEarlyError(stream, 413, "payload-too-large", "Payload too large",
                                fmt::format("the request body exceeds {} bytes", config.max_body_bytes));
        break;
      }
      if (ec == http::error::header_limit) {
        co_await SendEarlyError(stream, 431, "header-too-large", "Request header fields too large",
                                fmt::format("the request headers exceed {} bytes", config.max_header_bytes));
        break;
      }
      if (ec) {
        co_await SendEarlyError(stream, 400, "malformed-request", "Malformed request",
                                fmt::format("the HTTP request could not be parsed: {}", ec.message()));
        break;
      }
      auto start = Clock::now();
      auto& msg = parser.get();
      api::Request req;
      req.method = std::string(msg.method_string());
      req.target = std::string(msg.target());
      req.body = std::move(msg.body());
      req.remote_address = remote;
      for (const auto& f : msg) {
        std::string name(f.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        req.headers.emplace_back(std::move(name), std::string(f.value()));
      }
      auto rid = req.Header("x-request-id");
      req.request_id = rid && IsSafeRequestId(*rid) ? std::string(*rid) : NewRequestId();
      bool keep_alive = msg.keep_alive() && !stopping.load();
      unsigned version = msg.version();
      bool head = msg.method() == http::verb::head;

      in_flight.fetch_add(1);
      metrics.RequestStarted();
      api::Response resp;
      api::Request logged{req.method, req.target, {}, {}, req.request_id, req.remote_address};
      try {
        if (req.target == "/metrics" && (req.method == "GET" || req.method == "HEAD")) {
          resp.body = metrics.Render();
          resp.content_type = "text/plain; version=0.0.4";
          resp.route = "/metrics";
        } else {
          resp = co_await api.Handle(std::move(req));
        }
      } catch (const std::exception& e) {
        spdlog::error("unhandled exception for request {}: {}", logged.request_id, e.what());
        resp = api::MakeProblem(core::Error::Internal(e.what()), logged.request_id, logged.target);
      }
      if (resp.status >= 500) spdlog::error("request {} answered {}: {}", logged.request_id, resp.status, resp.body);
      if (resp.stream) {
        co_await Stream(stream, std::move(resp), version, head, logged, start);
        break;  // a streamed response ends the connection
      }
      std::size_t bytes = resp.body.size();
      int status = resp.status;
      std::string route = resp.route;
      auto res = ToBeast(std::move(resp), version, keep_alive, logged.request_id);
      LogAccess(logged, status, bytes, start);
      stream.expires_after(std::chrono::seconds(config.request_timeout_seconds));
      boost::system::error_code wec;
      if (head) {
        http::response_serializer<http::string_body> sr(res);
        std::tie(wec, n) = co_await http::async_write_header(stream, sr, asio::as_tuple(asio::use_awaitable));
      } else {
        std::tie(wec, n) = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
      }
      in_flight.fetch_sub(1);  // counted until the response is written, so a drain never cuts one
      metrics.RequestFinished();
      metrics.ObserveRequest(logged.method, route.empty() ? "unmatched" : route, status,
                             std::chrono::duration<double>(Clock::now() - start).count());
      if (wec || !keep_alive) break;
    }
    boost::system::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  asio::awaitable<void> Accept() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        spdlog::warn("accept failed: {}", ec.message());
        continue;
      }
      if (connections.load() >= config.max_connections) {
        boost::system::error_code ignored;
        socket.close(ignored);  // over the cap: refuse rather than degrade everyone
        continue;
      }
      connections.fetch_add(1);
      socket.set_option(tcp::no_delay(true), ec);
      asio::co_spawn(ioc, Session(beast::tcp_stream(std::move(socket))), [this](std::exception_ptr e) {
        connections.fetch_sub(1);
        if (e) {
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            spdlog::error("session ended with exception: {}", ex.what());
          }
        }
      });
    }
  }

  asio::awaitable<void> Drain() {
    asio::steady_timer timer(ioc);
    auto deadline = Clock::now() + std::chrono::seconds(config.shutdown_grace_seconds);
    while (in_flight.load() > 0 && Clock::now() < deadline) {
      timer.expires_after(std::chrono::milliseconds(20));
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    if (in_flight.load() > 0) spdlog::warn("shutdown: {} requests still running after the grace period", in_flight.load());
    ioc.stop();
  }

  void BeginShutdown() {
    if (stopping.exchange(true)) return;
    boost::system::error_code ec;
    acceptor.close(ec);
    asio::co_spawn(ioc, Drain(), asio::detached);
  }
};

HttpServer::HttpServer(const Config& config, api::Api& api, Metrics& metrics)
    : impl_(std::make_unique<Impl>(config, api, metrics)) {}
HttpServer::~HttpServer() = default;

void HttpServer::OnSignal(std::function<void()> f) { impl_->on_signal = std::move(f); }

core::Result<std::uint16_t> HttpServer::Bind() {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(impl_->config.listen_host, ec);
  if (ec) {
    return core::Error::Make(core::ErrorCode::kInvalidArgument,
                             fmt::format("listen address '{}' is not an IP address", impl_->config.listen_host));
  }
  tcp::endpoint ep(address, impl_->config.listen_port);
  auto& acc = impl_->acceptor;
  if (acc.open(ep.protocol(), ec); ec) return core::Error::Internal(fmt::format("open socket: {}", ec.message()));
  acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (acc.bind(ep, ec); ec) {
    return core::Error::Make(core::ErrorCode::kUnavailable,
                             fmt::format("cannot listen on {}:{}: {}", impl_->config.listen_host,
                                         impl_->config.listen_port, ec.message()));
  }
  if (acc.listen(asio::socket_base::max_listen_connections, ec); ec) {
    return core::Error::Internal(fmt::format("listen: {}", ec.message()));
  }
  return acc.local_endpoint().port();
}

void HttpServer::Run() {
  auto& impl = *impl_;
  impl.signals.async_wait([&impl](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("received signal {}; shutting down", sig);
    if (impl.on_signal) impl.on_signal();
    impl.BeginShutdown();
  });
  asio::co_spawn(impl.ioc, impl.Accept(), asio::detached);
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < impl.config.io_threads; ++i) threads.emplace_back([&impl] { impl.ioc.run(); });
  impl.ioc.run();
  for (auto& t : threads) t.join();
}

void HttpServer::Shutdown() {
  asio::post(impl_->ioc, [this] { impl_->BeginShutdown(); });
}

}  // namespace streetwise::server
