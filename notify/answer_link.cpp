#include "notify/answer_link.hpp"

#include <fmt/format.h>

#include <charconv>
#include <vector>

#include "core/crypto.hpp"
#include "notify/signature.hpp"

namespace streetwise::notify {

namespace {

std::vector<std::string_view> SplitBar(std::string_view s) {
  std::vector<std::string_view> out;
  for (;;) {
    auto bar = s.find('|');
    out.push_back(s.substr(0, bar));
    if (bar == std::string_view::npos) break;
    s.remove_prefix(bar + 1);
  }
  return out;
}

std::optional<std::int64_t> Int(std::string_view s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::string SignAnswerLink(std::string_view key, const AnswerLinkClaims& c) {
  std::string payload = fmt::format("1|{}|{}|{}|{}|{}", c.org_id, c.user_id, c.thread_id,
                                    core::ToUnixMillis(c.issued_at), core::ToUnixMillis(c.expires_at));
  return core::Base64UrlEncode(payload) + "." + core::Base64UrlEncode(HmacSha256(key, payload));
}

AnswerLinkCheck VerifyAnswerLink(std::string_view key, std::string_view token, core::TimePoint now) {
  AnswerLinkCheck out;
  auto dot = token.find('.');
  std::string payload, sig;
  if (token.size() > 2048 || dot == std::string_view::npos || !core::Base64UrlDecode(token.substr(0, dot), payload) ||
      !core::Base64UrlDecode(token.substr(dot + 1), sig)) {
    out.error = AnswerLinkError::kMalformed;
    return out;
  }
  if (!core::ConstantTimeEquals(sig, HmacSha256(key, payload))) {
    out.error = AnswerLinkError::kTampered;
    return out;
  }
  auto parts = SplitBar(payload);
  std::optional<std::int64_t> issued, expires;
  if (parts.size() == 6 && parts[0] == "1") {
    issued = Int(parts[4]);
    expires = Int(parts[5]);
  }
  if (!issued || !expires || parts[1].empty() || parts[2].empty() || parts[3].empty()) {
    out.error = AnswerLinkError::kMalformed;  // signed by us but not a shape we issue
    return out;
  }
  AnswerLinkClaims c{std::string(parts[1]), std::string(parts[2]), std::string(parts[3]),
                     core::FromUnixMillis(*issued), core::FromUnixMillis(*expires)};
  if (now >= c.expires_at) {
    out.error = AnswerLinkError::kExpired;
    return out;
  }
  out.claims = std::move(c);
  return out;
}

}  // namespace streetwise::notify
