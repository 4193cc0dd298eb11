#include "notify/signature.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>

#include "core/crypto.hpp"

namespace streetwise::notify {

namespace {
constexpr std::string_view kWhsecPrefix = "whsec_";
constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int Sextet(char c) {
  auto pos = kAlphabet.find(c);
  return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}
}  // namespace

std::string Base64Encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    std::uint32_t v = (static_cast<unsigned char>(data[i]) << 16) | (static_cast<unsigned char>(data[i + 1]) << 8) |
                      static_cast<unsigned char>(data[i + 2]);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  if (std::size_t rest = data.size() - i; rest > 0) {
    std::uint32_t v = static_cast<unsigned char>(data[i]) << 16;
    if (rest == 2) v |= static_cast<unsigned char>(data[i + 1]) << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::optional<std::string> Base64Decode(std::string_view in) {
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(in.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = Sextet(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

std::optional<std::string> SigningKey(std::string_view secret) {
  if (secret.starts_with(kWhsecPrefix)) return Base64Decode(secret.substr(kWhsecPrefix.size()));
  return std::string(secret);
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), md.data(), &len);
  return std::string(reinterpret_cast<const char*>(md.data()), len);
}

std::string SignWebhook(std::string_view secret, std::string_view msg_id, std::int64_t timestamp,
                        std::string_view body) {
  std::string key = SigningKey(secret).value_or(std::string(secret));
  std::string content;
  content.reserve(msg_id.size() + body.size() + 24);
  content.append(msg_id).append(".").append(std::to_string(timestamp)).append(".").append(body);
  return "v1," + Base64Encode(HmacSha256(key, content));
}

bool VerifyWebhook(std::string_view secret, std::string_view msg_id, std::int64_t timestamp, std::string_view body,
                   std::string_view signature_header) {
  std::string expected = SignWebhook(secret, msg_id, timestamp, body);
  bool match = false;
  while (!signature_header.empty()) {
    auto space = signature_header.find(' ');
    auto entry = signature_header.substr(0, space);
    if (!entry.empty() && core::ConstantTimeEquals(entry, expected)) match = true;  // no early exit
    if (space == std::string_view::npos) break;
    signature_header.remove_prefix(space + 1);
  }
  return match;
}

std::string NewWebhookSecret() { return std::string(kWhsecPrefix) + Base64Encode(core::RandomBytes(32)); }

}  // namespace streetwise::notify
