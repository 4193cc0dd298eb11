#include "core/cursor.hpp"

#include <doctest/doctest.h>

#include <initializer_list>
#include <string>

#include "core/crypto.hpp"
#include "unit/support/test_support.hpp"

namespace streetwise::core {
namespace {
TEST_SUITE_BEGIN("core");
using testing::Must;
using testing::MustFail;

TEST_CASE("QueryFingerprint is deterministic and distinguishes queries") {
  std::string a = QueryFingerprint("org=o1&route=threads&status=open");
  CHECK(a == QueryFingerprint("org=o1&route=threads&status=open"));
  CHECK(a != QueryFingerprint("org=o2&route=threads&status=open"));
  CHECK(a != QueryFingerprint("org=o1&route=threads&status=answered"));
  CHECK(a.size() == 16);
  CHECK(a.find('|') == std::string::npos);
}

TEST_CASE("A cursor round-trips to its last key") {
  std::string fp = QueryFingerprint("org=o1&route=threads");
  for (const std::string& key : std::initializer_list<std::string>{"t0193a1b2c3d4e5f60718293a4b5c6d7e", "k", "a|b|c",
                                                                  std::string("bin\0\xff", 5)}) {
    CAPTURE(key);
    std::string cursor = EncodeCursor(fp, key);
    CHECK(cursor.find_first_of("+/=") == std::string::npos);  // URL-safe, unpadded
    CHECK(Must(DecodeCursor(cursor, fp)) == key);
  }
}

TEST_CASE("A cursor issued for another query or tenant is rejected") {
  std::string fp = QueryFingerprint("org=o1&route=threads");
  std::string other = QueryFingerprint("org=o2&route=threads");
  std::string cursor = EncodeCursor(fp, "t123");
  auto e = MustFail(DecodeCursor(cursor, other));
  CHECK(e.code == ErrorCode::kInvalidCursor);
  CHECK(MustFail(DecodeCursor(cursor, "")).code == ErrorCode::kInvalidCursor);
  CHECK(MustFail(DecodeCursor(cursor, fp.substr(0, 15))).code == ErrorCode::kInvalidCursor);
}

TEST_CASE("Garbage, empty and oversized cursors are rejected as kInvalidCursor") {
  std::string fp = QueryFingerprint("q");
  auto rejected = [&](std::string_view cursor) {
    auto r = DecodeCursor(cursor, fp);
    return !r.ok() && r.error().code == ErrorCode::kInvalidCursor;
  };
  CHECK(rejected(""));
  CHECK(rejected("!!!!"));
  CHECK(rejected("not a cursor"));
  CHECK(rejected("A"));                                       // impossible base64 length
  CHECK(rejected(Base64UrlEncode("no bars at all")));
  CHECK(rejected(Base64UrlEncode("2|" + fp + "|t1")));        // unknown version
  CHECK(rejected(Base64UrlEncode("1|" + fp)));                // no last key separator
  CHECK(rejected(Base64UrlEncode("1|" + fp + "|")));          // empty last key
  CHECK(rejected(EncodeCursor(fp, "t1") + "="));              // padding is not accepted

  // Well-formed in every other respect, but longer than 1024 characters.
  std::string long_cursor = EncodeCursor(fp, std::string(900, 'k'));
  REQUIRE(long_cursor.size() > 1024);
  CHECK(rejected(long_cursor));
  // ...while a long-but-allowed one is fine.
  std::string ok_cursor = EncodeCursor(fp, std::string(700, 'k'));
  REQUIRE(ok_cursor.size() <= 1024);
  CHECK(Must(DecodeCursor(ok_cursor, fp)) == std::string(700, 'k'));
}

TEST_CASE("Base64Url matches the RFC 4648 vectors without padding") {
  CHECK(Base64UrlEncode("") == "");
  CHECK(Base64UrlEncode("f") == "Zg");
  CHECK(Base64UrlEncode("fo") == "Zm8");
  CHECK(Base64UrlEncode("foo") == "Zm9v");
  CHECK(Base64UrlEncode("foob") == "Zm9vYg");
  CHECK(Base64UrlEncode("fooba") == "Zm9vYmE");
  CHECK(Base64UrlEncode("foobar") == "Zm9vYmFy");
  // The URL-safe alphabet: 0xfb 0xff -> 111110 111111 1111(00) -> '-', '_', '8'.
  CHECK(Base64UrlEncode("\xfb\xff") == "-_8");
  std::string out;
  REQUIRE(Base64UrlDecode("-_8", out));
  CHECK(out == "\xfb\xff");
}

TEST_CASE("Base64Url round-trips every byte value at every length mod 3") {
  for (std::size_t len = 0; len <= 9; ++len) {
    for (int start = 0; start < 256; start += 17) {
      std::string data;
      for (std::size_t i = 0; i < len; ++i) data.push_back(static_cast<char>((start + 37 * i) & 0xFF));
      CAPTURE(len);
      CAPTURE(start);
      std::string enc = Base64UrlEncode(data);
      CHECK(enc.size() == (len * 4 + 2) / 3);
      std::string dec = "stale";
      REQUIRE(Base64UrlDecode(enc, dec));
      CHECK(dec == data);
    }
  }
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  std::string dec;
  REQUIRE(Base64UrlDecode(Base64UrlEncode(all), dec));
  CHECK(dec == all);
}

TEST_CASE("Base64UrlDecode rejects invalid characters, lengths and non-canonical tails") {
  std::string out;
  CHECK_FALSE(Base64UrlDecode("Zm9v+A", out));  // '+' is standard base64, not base64url
  CHECK_FALSE(Base64UrlDecode("Zm9v/A", out));
  CHECK_FALSE(Base64UrlDecode("Zg==", out));    // padding
  CHECK_FALSE(Base64UrlDecode("Zm 9v", out));
  CHECK_FALSE(Base64UrlDecode("Zm9v\n", out));
  CHECK_FALSE(Base64UrlDecode(std::string("Zm\0v", 4), out));
  CHECK_FALSE(Base64UrlDecode("Z", out));       // length 1 mod 4 cannot be produced
  CHECK_FALSE(Base64UrlDecode("Zm9vY", out));
  CHECK_FALSE(Base64UrlDecode("Zh", out));      // leftover bits not zero: not what Encode("f") gives
  CHECK_FALSE(Base64UrlDecode("Zm9", out));
  CHECK(Base64UrlDecode("", out));
  CHECK(out.empty());
}

TEST_SUITE_END();

}  // namespace
}  // namespace streetwise::core
