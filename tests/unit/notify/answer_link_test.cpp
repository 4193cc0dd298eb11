#include "notify/answer_link.hpp"

#include <doctest/doctest.h>

#include <chrono>

#include "core/crypto.hpp"

namespace streetwise::notify {
namespace {
TEST_SUITE_BEGIN("notify");
using namespace std::chrono_literals;

const std::string kKey(32, 'k');
const core::TimePoint kNow = core::FromUnixMillis(1'780'000'000'000);

AnswerLinkClaims Claims() { return {"o1", "u1", "t1", kNow, kNow + 24h}; }

TEST_CASE("a genuine, unexpired link verifies with its claims") {
  auto token = SignAnswerLink(kKey, Claims());
  auto check = VerifyAnswerLink(kKey, token, kNow + 1h);
  REQUIRE(check.claims);
  CHECK_FALSE(check.error);
  CHECK(check.claims->org_id == "o1");
  CHECK(check.claims->user_id == "u1");
  CHECK(check.claims->thread_id == "t1");
  CHECK(check.claims->expires_at == kNow + 24h);
}

TEST_CASE("expired, tampered, foreign and malformed links are refused") {
  auto token = SignAnswerLink(kKey, Claims());
  CHECK(VerifyAnswerLink(kKey, token, kNow + 24h).error == AnswerLinkError::kExpired);
  CHECK(VerifyAnswerLink(std::string(32, 'x'), token, kNow).error == AnswerLinkError::kTampered);

  // Re-bind the link to another thread by editing the payload: the signature no longer matches.
  auto dot = token.find('.');
  std::string payload;
  REQUIRE(core::Base64UrlDecode(token.substr(0, dot), payload));
  auto forged_payload = payload;
  forged_payload.replace(forged_payload.find("|t1|"), 4, "|t2|");
  auto forged = core::Base64UrlEncode(forged_payload) + token.substr(dot);
  CHECK(VerifyAnswerLink(kKey, forged, kNow).error == AnswerLinkError::kTampered);

  std::string flipped = token;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  auto e = VerifyAnswerLink(kKey, flipped, kNow).error;
  CHECK((e == AnswerLinkError::kTampered || e == AnswerLinkError::kMalformed));

  CHECK(VerifyAnswerLink(kKey, "", kNow).error == AnswerLinkError::kMalformed);
  CHECK(VerifyAnswerLink(kKey, "no-dot-here", kNow).error == AnswerLinkError::kMalformed);
  CHECK(VerifyAnswerLink(kKey, "!!!.???", kNow).error == AnswerLinkError::kMalformed);
  CHECK(VerifyAnswerLink(kKey, token.substr(0, token.size() / 2), kNow).error.has_value());
}

TEST_SUITE_END();
}  // namespace
}  // namespace streetwise::notify
