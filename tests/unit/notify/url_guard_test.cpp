#include "notify/url_guard.hpp"

#include <doctest/doctest.h>

namespace streetwise::notify {
namespace {
TEST_SUITE_BEGIN("notify");

TEST_CASE("webhook URLs: http(s) with a host, no credentials or fragments") {
  CHECK(ValidateWebhookUrl("https://hooks.example.com/services/T0/B0/X", false).ok());
  CHECK(ValidateWebhookUrl("http://example.com:8080/hook?x=1", false).ok());
  CHECK_FALSE(ValidateWebhookUrl("ftp://example.com/hook", true).ok());
  CHECK_FALSE(ValidateWebhookUrl("file:///etc/passwd", true).ok());
  CHECK_FALSE(ValidateWebhookUrl("gopher://example.com", true).ok());
  CHECK_FALSE(ValidateWebhookUrl("example.com/hook", true).ok());
  CHECK_FALSE(ValidateWebhookUrl("https://user:pw@example.com/", true).ok());
  CHECK_FALSE(ValidateWebhookUrl("https://example.com/#x", true).ok());
  CHECK_FALSE(ValidateWebhookUrl("https:///nohost", true).ok());
  CHECK_FALSE(ValidateWebhookUrl("https://example.com/" + std::string(2100, 'a'), true).ok());
  auto e = ValidateWebhookUrl("ftp://x", true).error();
  CHECK(e.code == core::ErrorCode::kInvalidArgument);
  CHECK(e.fields.at(0).pointer == "#/url");
}

TEST_CASE("private targets are refused unless allowed") {
  for (const char* url : {"http://127.0.0.1:9/x", "http://localhost/x", "http://api.localhost/x", "http://10.1.2.3/",
                          "http://172.16.0.1/", "http://192.168.1.1/", "http://169.254.169.254/latest/meta-data",
                          "http://100.64.0.1/", "http://0.0.0.0/", "http://[::1]/", "http://[fd00::1]/",
                          "http://[fe80::1]/", "http://[::ffff:127.0.0.1]/", "http://2130706433/",
                          "http://0x7f.1/", "http://017700000001/", "http://127.1/", "http://224.0.0.1/",
                          "http://printer.local/"}) {
    CAPTURE(url);
    CHECK_FALSE(ValidateWebhookUrl(url, false).ok());
    CHECK(ValidateWebhookUrl(url, true).ok());
  }
  for (const char* url : {"http://8.8.8.8/", "http://[2606:4700::1111]/", "http://93.184.216.34/x"}) {
    CAPTURE(url);
    CHECK(ValidateWebhookUrl(url, false).ok());
  }
}

TEST_CASE("address literals are classified") {
  CHECK(IsPrivateIpLiteral("127.0.0.1"));
  CHECK(IsPrivateIpLiteral("[::1]"));
  CHECK(IsPrivateIpLiteral("64:ff9b::a00:1"));  // NAT64 of 10.0.0.1
  CHECK_FALSE(IsPrivateIpLiteral("64:ff9b::808:808"));
  CHECK_FALSE(IsPrivateIpLiteral("1.1.1.1"));
  CHECK_FALSE(IsPrivateIpLiteral("example.com"));  // a name, not a literal: checked at connect time
}

TEST_SUITE_END();
}  // namespace
}  // namespace streetwise::notify
