#include "notify/signature.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace streetwise::notify {
namespace {
TEST_SUITE_BEGIN("notify");

// The test vector of the Standard Webhooks specification (standard-webhooks/standard-webhooks,
// spec/standard-webhooks.md and the reference libraries' tests).
constexpr std::string_view kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr std::string_view kMsgId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr std::int64_t kTimestamp = 1614265330;
constexpr std::string_view kPayload = R"({"test": 2432232314})";
constexpr std::string_view kExpected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

TEST_CASE("Standard Webhooks test vector") {
  CHECK(SignWebhook(kSecret, kMsgId, kTimestamp, kPayload) == kExpected);
  CHECK(VerifyWebhook(kSecret, kMsgId, kTimestamp, kPayload, kExpected));
}

TEST_CASE("verification rejects any change and accepts a rotation list") {
  CHECK_FALSE(VerifyWebhook(kSecret, kMsgId, kTimestamp, R"({"test": 2432232315})", kExpected));
  CHECK_FALSE(VerifyWebhook(kSecret, "msg_other", kTimestamp, kPayload, kExpected));
  CHECK_FALSE(VerifyWebhook(kSecret, kMsgId, kTimestamp + 1, kPayload, kExpected));
  CHECK_FALSE(VerifyWebhook("whsec_dGhlIG90aGVyIHNlY3JldCBhdCBsZWFzdA==", kMsgId, kTimestamp, kPayload, kExpected));
  std::string rotated = "v1,bm90IGEgc2lnbmF0dXJlIGF0IGFsbCBqdXN0IHBhZGRpbmc= " + std::string(kExpected);
  CHECK(VerifyWebhook(kSecret, kMsgId, kTimestamp, kPayload, rotated));
  CHECK_FALSE(VerifyWebhook(kSecret, kMsgId, kTimestamp, kPayload, ""));
}

TEST_CASE("a secret without the whsec_ prefix signs with its raw bytes") {
  auto with_prefix = SignWebhook("whsec_" + Base64Encode("0123456789abcdef"), "id", 1, "{}");
  auto raw = SignWebhook("0123456789abcdef", "id", 1, "{}");
  CHECK(with_prefix == raw);
  CHECK(SigningKey("plain-secret-value").value() == "plain-secret-value");
  CHECK_FALSE(SigningKey("whsec_***not base64***"));
}

TEST_CASE("base64 round trips and rejects garbage") {
  for (const std::string& s : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba", "foobar", std::string("\0\xff\x10", 3)}) {
    auto enc = Base64Encode(s);
    CHECK(enc.size() % 4 == 0);
    CHECK(Base64Decode(enc).value() == s);
  }
  CHECK(Base64Encode("foobar") == "Zm9vYmFy");
  CHECK(Base64Encode("fo") == "Zm8=");
  CHECK_FALSE(Base64Decode("Zm9v!"));
  CHECK_FALSE(Base64Decode("Z"));
}

TEST_CASE("new secrets are whsec_ with 32 random bytes") {
  auto a = NewWebhookSecret();
  auto b = NewWebhookSecret();
  CHECK(a != b);
  CHECK(a.starts_with("whsec_"));
  CHECK(SigningKey(a).value().size() == 32);
}

TEST_SUITE_END();
}  // namespace
}  // namespace streetwise::notify
