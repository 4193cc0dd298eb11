#include "notify/url_guard.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <fmt/format.h>

#include <cstring>
#include <string>

namespace streetwise::notify {
using core::Error;
using core::ErrorCode;

namespace {

bool PublicV4(std::uint32_t a) {  // host byte order
  auto in = [a](std::uint32_t net, int bits) { return bits == 0 || (a >> (32 - bits)) == (net >> (32 - bits)); };
  return !(in(0x00000000, 8) ||     // "this network", 0.0.0.0
           in(0x0A000000, 8) ||     // 10/8
           in(0x64400000, 10) ||    // 100.64/10 CGNAT
           in(0x7F000000, 8) ||     // loopback
           in(0xA9FE0000, 16) ||    // link-local, cloud metadata
           in(0xAC100000, 12) ||    // 172.16/12
           in(0xC0000000, 24) ||    // 192.0.0/24 IETF
           in(0xC0000200, 24) ||    // TEST-NET-1
           in(0xC0A80000, 16) ||    // 192.168/16
           in(0xC6120000, 15) ||    // 198.18/15 benchmarking
           in(0xC6336400, 24) ||    // TEST-NET-2
           in(0xCB007100, 24) ||    // TEST-NET-3
           in(0xE0000000, 4) ||     // multicast
           in(0xF0000000, 4));      // reserved, broadcast
}

bool PublicV6(const unsigned char* b) {
  static const unsigned char kZero[16] = {};
  if (std::memcmp(b, kZero, 15) == 0 && (b[15] == 0 || b[15] == 1)) return false;  // :: and ::1
  // ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible, deprecated), 64:ff9b::a.b.c.d (NAT64).
  static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static const unsigned char kNat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  if (std::memcmp(b, kMapped, 12) == 0 || std::memcmp(b, kZero, 12) == 0 || std::memcmp(b, kNat64, 12) == 0) {
    std::uint32_t v4 = (std::uint32_t{b[12]} << 24) | (std::uint32_t{b[13]} << 16) | (std::uint32_t{b[14]} << 8) | b[15];
    return PublicV4(v4);
  }
  if ((b[0] & 0xfe) == 0xfc) return false;                  // fc00::/7 unique local
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return false;  // fe80::/10 link-local
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return false;  // fec0::/10 site-local (deprecated)
  if (b[0] == 0xff) return false;                           // multicast
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return false;  // 2001:db8::/32 docs
  return true;
}

}  // namespace

bool IsPublicAddress(const struct sockaddr* address) {
  if (!address) return false;
  if (address->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(address);
    return PublicV4(ntohl(in->sin_addr.s_addr));
  }
  if (address->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    return PublicV6(in6->sin6_addr.s6_addr);
  }
  return false;
}

bool IsPrivateIpLiteral(std::string_view ip) {
  std::string s(ip);
  if (s.size() >= 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  in6_addr v6{};
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) return !PublicV6(v6.s6_addr);
  in_addr v4{};
  // inet_aton accepts the legacy forms getaddrinfo also resolves: "2130706433", "0x7f.1", "127.1".
  if (inet_aton(s.c_str(), &v4) == 1) return !PublicV4(ntohl(v4.s_addr));
  return false;
}

core::Status ValidateWebhookUrl(std::string_view url, bool allow_private) {
  auto bad = [](std::string detail) {
    Error e = Error::Make(ErrorCode::kInvalidArgument, detail);
    e.fields.push_back({"#/url", std::move(detail)});
    return e;
  };
  if (url.size() > 2048) return bad("url must be at most 2048 characters");
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) return bad("url must be an absolute http:// or https:// URL");
  boost::urls::url_view u = *parsed;
  std::string scheme(u.scheme());
  for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "http" && scheme != "https") return bad("url must use http or https");
  if (!u.has_authority() || u.encoded_host().empty()) return bad("url must name a host");
  if (u.has_userinfo()) return bad("url must not contain user:password@");
  if (u.has_fragment()) return bad("url must not contain a #fragment");
  if (!allow_private) {
    std::string host(u.encoded_host());
    for (auto& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (host == "localhost" || host.ends_with(".localhost") || host.ends_with(".local") || IsPrivateIpLiteral(host)) {
      return bad(fmt::format("url points at a loopback, private or link-local address ({}); this server does not "
                             "allow private webhook targets",
                             host));
    }
  }
  return core::OkStatus();
}

}  // namespace streetwise::notify
