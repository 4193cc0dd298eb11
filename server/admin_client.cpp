#include "server/admin_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

namespace streetwise::server {
namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;

core::Result<AdminResponse> AdminRequest(const std::string& address, const std::string& method,
                                         const std::string& target, const std::string& token,
                                         const std::string& json_body, std::chrono::seconds timeout) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos) return core::Error::Make(core::ErrorCode::kInvalidArgument, "bad address");
  try {
    asio::io_context ioc;
    asio::ip::tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    stream.expires_after(timeout);
    stream.connect(resolver.resolve(address.substr(0, colon), address.substr(colon + 1)));
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, address);
    req.set(http::field::authorization, "Bearer " + token);
    if (!json_body.empty()) {
      req.set(http::field::content_type, "application/json");
      req.body() = json_body;
    }
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    beast::error_code ec;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    return AdminResponse{static_cast<int>(res.result_int()), res.body()};
  } catch (const std::exception& e) {
    return core::Error::Make(core::ErrorCode::kUnavailable,
                             fmt::format("cannot reach the server at {}: {}", address, e.what()));
  }
}

}  // namespace streetwise::server
