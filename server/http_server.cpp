#include "server/http_server.hpp"

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "api/api.hpp"
#include "api/problem.hpp"
#include "core/crypto.hpp"
#include "core/validation.hpp"
#include "server/logging.hpp"
#include "server/metrics.hpp"

namespace streetwise::server {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

// While the process is out of file descriptors, accept() fails at once for as long as the backlog
// holds connections, so retrying immediately spins a core. Wait this long between attempts.
constexpr auto kAcceptBackoff = 100ms;
// At most one "accept failed" log line per this interval (with a count of the ones suppressed).
constexpr auto kAcceptLogInterval = 5s;
// How much an idle connection's first read asks for (more arrives through the parser's reads).
constexpr std::size_t kFirstReadBytes = 4096;

// 16 hex digits, unique in practice. Not a secret, so not from the CSPRNG on every request
// (RAND_bytes was 3% of a GET's CPU): a per-thread splitmix64 sequence seeded from it once.
std::string NewRequestId() {
  thread_local std::uint64_t state = [] {
    std::uint64_t seed = 0;
    std::string raw = core::RandomBytes(sizeof seed);
    std::memcpy(&seed, raw.data(), sizeof seed);
    return seed;
  }();
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return fmt::format("{:016x}", z);
}

// Appends `s` to `out` as the inside of a JSON string. `s` is valid UTF-8 (LoggedTarget makes the
// target so; the other logged fields are ASCII by construction), so only quotes, backslashes and
// control characters need escaping.
void AppendJsonString(fmt::memory_buffer& out, std::string_view s) {
  out.push_back('"');
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<unsigned>(static_cast<unsigned char>(c)));
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

// Accepts a client-supplied X-Request-Id only if it is short and harmless in logs.
bool IsSafeRequestId(std::string_view id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

// The target without its query, and with the credential of an answer link (/a/<token>) masked:
// tokens never go to logs. Bytes that are not UTF-8 are percent-escaped: the access log is JSON.
std::string LoggedTarget(std::string_view target) {
  target = target.substr(0, target.find('?'));
  if (target.starts_with("/a/")) return "/a/<token>";
  return core::PercentEscapeInvalidUtf8(target);
}

// The method as a metrics label: any token is a valid method, so a client could create a series
// per request with made-up ones. Others are "_OTHER" (as OpenTelemetry's HTTP conventions do).
std::string_view MetricMethod(std::string_view method) {
  static constexpr std::string_view kKnown[] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                                "CONNECT", "OPTIONS", "TRACE", "PATCH"};
  for (auto m : kKnown) {
    if (m == method) return m;
  }
  return "_OTHER";
}

bool OutOfDescriptors(const boost::system::error_code& ec) {
  return ec == asio::error::no_descriptors || ec == boost::system::errc::too_many_files_open_in_system ||
         ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
}

// RFC 9112 section 6.1 and 6.3: a request's Transfer-Encoding must end in chunked, or its length
// cannot be determined (Beast 1.81 then reads no body, and the body's bytes would be taken for the
// next request: request smuggling behind a proxy that frames it differently). chunked is the only
// coding this server implements, and a Transfer-Encoding in HTTP/1.0 is faulty framing. Returns the
// status and detail of the refusal, or nothing for a request without the problem. Beast has already
// refused Content-Length together with a Transfer-Encoding that ends in chunked.
std::optional<std::pair<int, std::string>> TransferEncodingProblem(const http::request_parser<http::string_body>& parser) {
  const auto& msg = parser.get();
  std::vector<std::string> codings;
  for (auto it = msg.find(http::field::transfer_encoding);
       it != msg.end() && it->name() == http::field::transfer_encoding; ++it) {
    for (auto coding : http::token_list(it->value())) codings.emplace_back(coding);
  }
  if (codings.empty()) return std::nullopt;
  if (msg.version() < 11) return std::pair{400, std::string("Transfer-Encoding is not allowed in HTTP/1.0")};
  if (!parser.chunked() || !beast::iequals(codings.back(), "chunked")) {
    return std::pair{400, std::string("the request's Transfer-Encoding must end in chunked")};
  }
  if (codings.size() > 1) {
    return std::pair{501, fmt::format("transfer coding '{}' is not supported (only chunked)",
                                      core::ToValidUtf8(codings.front()))};
  }
  return std::nullopt;
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

  // Formatted directly: this runs for every request, and building and serialising a json::object
  // for it was ~6% of a GET's CPU.
  void LogAccess(const api::Request& req, int status, std::size_t bytes, Clock::time_point start) {
    if (!AccessLogEnabled()) return;
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    fmt::memory_buffer line;
    auto out = std::back_inserter(line);
    fmt::format_to(out, "\"msg\":\"request\",\"request_id\":");
    AppendJsonString(line, req.request_id);
    fmt::format_to(out, ",\"method\":");
    AppendJsonString(line, req.method);
    fmt::format_to(out, ",\"target\":");
    AppendJsonString(line, LoggedTarget(req.target));
    fmt::format_to(out, ",\"status\":{},\"response_bytes\":{},\"duration_ms\":{:.3f},\"remote\":", status, bytes, ms);
    AppendJsonString(line, req.remote_address);
    AccessLog(std::string_view(line.data(), line.size()));
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

  // Answers a request the parser rejected before it reached the API (413, 431, 400, 501); the
  // caller closes the connection.
  asio::awaitable<void> SendEarlyError(beast::tcp_stream& stream, int status, std::string_view slug,
                                       std::string_view title, std::string detail) {
    std::string id = NewRequestId();
    auto res = ToBeast(api::MakeHttpProblem(api::ProblemType{status, slug, title}, detail, id, ""), 11, false, id);
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
    metrics.ObserveRequest(MetricMethod(logged.method), resp.route.empty() ? "unmatched" : resp.route, resp.status,
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
      boost::system::error_code ec;
      std::size_t n = 0;
      if (buffer.size() == 0) {
        // Between requests (and before a new connection's first one) the idle timeout applies,
        // but only until the first byte of the request arrives: a client that trickles its
        // headers must not have the longer idle deadline for them.
        stream.expires_after(std::chrono::seconds(config.idle_timeout_seconds));
        std::tie(ec, n) =
            co_await stream.async_read_some(buffer.prepare(kFirstReadBytes), asio::as_tuple(asio::use_awaitable));
        buffer.commit(n);
      }
      // From the request's first byte, its headers have request_timeout_seconds; then its body
      // gets the same again.
      if (!ec) {
        stream.expires_after(std::chrono::seconds(config.request_timeout_seconds));
        std::tie(ec, n) = co_await http::async_read_header(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
      }
      if (!ec) {
        if (auto refusal = TransferEncodingProblem(parser)) {
          bool unsupported = refusal->first == 501;
          co_await SendEarlyError(stream, refusal->first, unsupported ? "not-implemented" : "malformed-request",
                                  unsupported ? "Not implemented" : "Malformed request", std::move(refusal->second));
          break;
        }
      }
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
      metrics.ObserveRequest(MetricMethod(logged.method), route.empty() ? "unmatched" : route, status,
                             std::chrono::duration<double>(Clock::now() - start).count());
      if (wec || !keep_alive) break;
    }
    boost::system::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  asio::awaitable<void> Accept() {
    asio::steady_timer backoff(ioc);
    std::optional<Clock::time_point> last_logged;
    std::size_t unlogged = 0;  // failures since the last log line
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        auto now = Clock::now();
        if (!last_logged || now - *last_logged >= kAcceptLogInterval) {
          if (unlogged > 0) {
            spdlog::warn("accept failed: {} ({} more failures since the last report)", ec.message(), unlogged);
          } else {
            spdlog::warn("accept failed: {}", ec.message());
          }
          last_logged = now;
          unlogged = 0;
        } else {
          ++unlogged;
        }
        if (OutOfDescriptors(ec)) {
          // The listener stays readable while the backlog holds connections: back off instead of
          // spinning until sessions close and release descriptors.
          backoff.expires_after(kAcceptBackoff);
          co_await backoff.async_wait(asio::as_tuple(asio::use_awaitable));
        }
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
