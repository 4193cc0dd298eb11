#include "core/crypto.hpp"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <zlib.h>

#include <array>
#include <cstdlib>

namespace streetwise::core {
namespace {

constexpr std::string_view kBase62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr std::string_view kTokenPrefix = "sw_pat_";
constexpr std::size_t kTokenRandomChars = 32;
constexpr std::size_t kTokenChecksumChars = 6;

std::string Base62Fixed(std::uint32_t v, std::size_t width) {
  std::string out(width, '0');
  for (std::size_t i = width; i-- > 0;) {
    out[i] = kBase62[v % 62];
    v /= 62;
  }
  return out;
}

std::string TokenChecksum(std::string_view body) {
  auto crc = crc32(0L, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()));
  return Base62Fixed(static_cast<std::uint32_t>(crc), kTokenChecksumChars);
}

}  // namespace

std::string RandomBytes(std::size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    std::abort();  // the CSPRNG failing is not recoverable
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_sha256(), nullptr);
  // A table, not fmt per byte: this runs for every authenticated request (the token's digest),
  // and 32 format calls were 16% of a cached GET's instructions.
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(len * 2, '\0');
  for (unsigned int i = 0; i < len; ++i) {
    out[2 * i] = kHex[md[i] >> 4];
    out[2 * i + 1] = kHex[md[i] & 0xf];
  }
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string NewId(std::string_view prefix, TimePoint now) {
  std::string rnd = RandomBytes(8);
  std::string out(prefix);
  fmt::format_to(std::back_inserter(out), "{:012x}", static_cast<std::uint64_t>(ToUnixMillis(now)) & 0xFFFFFFFFFFFFull);
  for (unsigned char c : rnd) fmt::format_to(std::back_inserter(out), "{:02x}", c);
  return out;
}

std::string NewTokenSecret() {
  std::string body;
  body.reserve(kTokenRandomChars);
  while (body.size() < kTokenRandomChars) {
    for (unsigned char c : RandomBytes(48)) {
      if (c < 248 && body.size() < kTokenRandomChars) body.push_back(kBase62[c % 62]);  // 248 = 4*62: unbiased
    }
  }
  return std::string(kTokenPrefix) + body + TokenChecksum(body);
}

bool IsWellFormedTokenSecret(std::string_view token) {
  if (token.size() != kTokenPrefix.size() + kTokenRandomChars + kTokenChecksumChars) return false;
  if (token.substr(0, kTokenPrefix.size()) != kTokenPrefix) return false;
  std::string_view rest = token.substr(kTokenPrefix.size());
  for (char c : rest) {
    if (kBase62.find(c) == std::string_view::npos) return false;
  }
  return TokenChecksum(rest.substr(0, kTokenRandomChars)) == rest.substr(kTokenRandomChars);
}

std::string Base64UrlEncode(std::string_view data) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((data.size() * 4 + 2) / 3);
  std::size_t i = 0;
  auto byte = [&](std::size_t k) { return static_cast<std::uint32_t>(static_cast<unsigned char>(data[k])); };
  for (; i + 2 < data.size(); i += 3) {
    std::uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  if (data.size() - i == 1) {
    std::uint32_t v = byte(i) << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
  } else if (data.size() - i == 2) {
    std::uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
  }
  return out;
}

bool Base64UrlDecode(std::string_view in, std::string& out) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
  };
  if (in.size() % 4 == 1) return false;
  out.clear();
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = value(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  // Leftover bits must be zero, otherwise the encoding is not canonical.
  return (acc & ((1u << bits) - 1)) == 0;
}

}  // namespace streetwise::core
