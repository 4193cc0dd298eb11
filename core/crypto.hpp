// Randomness, hashing and identifiers (OpenSSL behind this header).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/clock.hpp"

namespace streetwise::core {

// Cryptographically secure random bytes. Aborts if the CSPRNG fails (it cannot on Linux once seeded).
std::string RandomBytes(std::size_t n);

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

// Constant-time equality for secrets and digests of equal length; false if lengths differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// A new opaque id: `prefix` + 12 hex digits of milliseconds + 16 hex random digits. Ids made later
// sort after ids made earlier (same millisecond: random order), so they double as creation order.
std::string NewId(std::string_view prefix, TimePoint now);

// A new API token secret: "sw_pat_" + 32 base62 characters (190 bits) + 6 base62 CRC32 checksum.
std::string NewTokenSecret();

// True if `token` has the shape NewTokenSecret() produces and its checksum matches. Lets the auth
// layer reject typos and garbage without a storage lookup.
bool IsWellFormedTokenSecret(std::string_view token);

// base64url without padding (RFC 4648 §5).
std::string Base64UrlEncode(std::string_view data);
// Decodes base64url without padding; false on any invalid character or length.
bool Base64UrlDecode(std::string_view in, std::string& out);

}  // namespace streetwise::core
