// Webhook URL validation and the SSRF guard.
//
// A webhook URL makes the server send requests on a tenant's behalf, so a hostile admin could
// aim it at internal services (cloud metadata at 169.254.169.254, databases on 10.x, the
// server's own loopback). Two checks, both controlled by `allow_private`:
//  - at registration (ValidateWebhookUrl): scheme http/https, a host, no user info, and, unless
//    private targets are allowed, no literal private/loopback/link-local address (including the
//    legacy decimal/hex IPv4 forms getaddrinfo accepts) and no "localhost";
//  - at connect time (IsPublicAddress, called by the transport for every address libcurl is about
//    to connect to): this is what stops DNS names resolving, or re-binding, to private addresses.
// Redirects are never followed. Thread-safe, no I/O.
#pragma once

#include <string_view>

#include "core/error.hpp"

struct sockaddr;

namespace streetwise::notify {

// kInvalidArgument with a user-facing reason when `url` is not acceptable as a webhook target.
core::Status ValidateWebhookUrl(std::string_view url, bool allow_private);

// False for loopback, private (RFC 1918, ULA), link-local, CGNAT, unspecified, multicast,
// reserved and documentation ranges, and IPv4-mapped/NAT64 forms of those. Families other than
// IPv4/IPv6 are not public.
bool IsPublicAddress(const struct sockaddr* address);

// The same test for a textual IP ("10.0.0.1", "::1", "2130706433", "0x7f.1"); false if `ip` is not
// an address literal at all.
bool IsPrivateIpLiteral(std::string_view ip);

}  // namespace streetwise::notify
