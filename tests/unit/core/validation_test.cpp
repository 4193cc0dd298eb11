#include "core/validation.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "unit/support/test_support.hpp"

namespace streetwise::core {
namespace {
TEST_SUITE_BEGIN("core");
using testing::Must;
using testing::MustFail;

TEST_CASE("IsValidUtf8 accepts well-formed text of every sequence length") {
  CHECK(IsValidUtf8(""));
  CHECK(IsValidUtf8("plain ascii"));
  CHECK(IsValidUtf8("caf\xC3\xA9"));            // U+00E9, 2 bytes
  CHECK(IsValidUtf8("\xE2\x82\xAC"));           // U+20AC, 3 bytes
  CHECK(IsValidUtf8("\xF0\x9F\x98\x80"));       // U+1F600, 4 bytes
  CHECK(IsValidUtf8("\xEF\xBF\xBF"));           // U+FFFF
  CHECK(IsValidUtf8("\xF4\x8F\xBF\xBF"));       // U+10FFFF, the last code point
  CHECK(IsValidUtf8(std::string("a\0b", 3)));   // NUL is a valid code point
}

TEST_CASE("IsValidUtf8 rejects malformed sequences, overlongs, surrogates and out-of-range code points") {
  CHECK_FALSE(IsValidUtf8("\x80"));                // lone continuation byte
  CHECK_FALSE(IsValidUtf8("a\xBF"));               // continuation after ASCII
  CHECK_FALSE(IsValidUtf8("\xC3"));                // truncated 2-byte sequence
  CHECK_FALSE(IsValidUtf8("\xE2\x82"));            // truncated 3-byte sequence
  CHECK_FALSE(IsValidUtf8("\xF0\x9F\x98"));        // truncated 4-byte sequence
  CHECK_FALSE(IsValidUtf8("\xC3\x28"));            // bad continuation byte
  CHECK_FALSE(IsValidUtf8("\xC0\xAF"));            // overlong '/'
  CHECK_FALSE(IsValidUtf8("\xC1\xBF"));            // overlong U+007F
  CHECK_FALSE(IsValidUtf8("\xE0\x80\xAF"));        // overlong 3-byte
  CHECK_FALSE(IsValidUtf8("\xF0\x80\x80\xAF"));    // overlong 4-byte
  CHECK_FALSE(IsValidUtf8("\xED\xA0\x80"));        // U+D800, a surrogate
  CHECK_FALSE(IsValidUtf8("\xED\xBF\xBF"));        // U+DFFF, a surrogate
  CHECK_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));    // U+110000, beyond Unicode
  CHECK_FALSE(IsValidUtf8("\xF8\x88\x80\x80\x80"));  // 5-byte form
  CHECK_FALSE(IsValidUtf8("\xFF"));
  CHECK_FALSE(IsValidUtf8("ok so far \xE2\x82"));  // error at the very end
}

TEST_CASE("ToValidUtf8 keeps valid text and replaces each maximal ill-formed subpart by one U+FFFD") {
  const std::string fffd = "\xEF\xBF\xBD";
  CHECK(ToValidUtf8("") == "");
  CHECK(ToValidUtf8("caf\xC3\xA9 \xF0\x9F\x98\x80") == "caf\xC3\xA9 \xF0\x9F\x98\x80");
  CHECK(ToValidUtf8(std::string("a\0b", 3)) == std::string("a\0b", 3));
  CHECK(ToValidUtf8("/\xFF") == "/" + fffd);
  CHECK(ToValidUtf8("\x80\x80") == fffd + fffd);             // two lone continuation bytes
  CHECK(ToValidUtf8("\xE2\x82" "A") == fffd + "A");          // truncated 3-byte sequence: one subpart
  CHECK(ToValidUtf8("x\xF0\x9F\x98") == "x" + fffd);         // truncated at the end
  CHECK(ToValidUtf8("\xC0\xAF") == fffd + fffd);             // overlong: C0 never starts a sequence
  CHECK(ToValidUtf8("\xED\xA0\x80") == fffd + fffd + fffd);  // surrogate: ED A0 is not a prefix
  CHECK(ToValidUtf8("\xF4\x90\x80\x80") == fffd + fffd + fffd + fffd);  // beyond U+10FFFF
  for (std::string_view bad : {"\xFF\xFE", "\xC3\x28", "ok \xE2\x82", "\xF8\x88\x80\x80\x80", "\xE0\x80\xAF"}) {
    CAPTURE(bad);
    CHECK(IsValidUtf8(ToValidUtf8(bad)));
  }
}

TEST_CASE("PercentEscapeInvalidUtf8 writes the bytes of ill-formed sequences as %XX") {
  CHECK(PercentEscapeInvalidUtf8("/v1/threads/%41") == "/v1/threads/%41");  // valid input untouched
  CHECK(PercentEscapeInvalidUtf8("/caf\xC3\xA9") == "/caf\xC3\xA9");
  CHECK(PercentEscapeInvalidUtf8("/\xFF") == "/%FF");
  CHECK(PercentEscapeInvalidUtf8("/\xE2\x82/x") == "/%E2%82/x");
  CHECK(PercentEscapeInvalidUtf8("\xC3\xA9\x80") == "\xC3\xA9%80");
}

TEST_CASE("CountCodePoints counts code points, not bytes") {
  CHECK(CountCodePoints("") == 0);
  CHECK(CountCodePoints("abc") == 3);
  CHECK(CountCodePoints("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80") == 4);  // a é € 😀 = 10 bytes
}

TEST_CASE("Trim removes leading and trailing ASCII whitespace only") {
  CHECK(Trim("  a b \t\r\n") == "a b");
  CHECK(Trim("\f\vx\v") == "x");
  CHECK(Trim("") == "");
  CHECK(Trim(" \t\n ") == "");
  CHECK(Trim("inner  space") == "inner  space");
  CHECK(Trim("\xC2\xA0x") == "\xC2\xA0x");  // U+00A0 is not ASCII whitespace
}

TEST_CASE("NormaliseTag trims, lower-cases and joins inner whitespace with '-'") {
  CHECK(Must(NormaliseTag("Pricing")) == "pricing");
  CHECK(Must(NormaliseTag("  Sales   Ops  ")) == "sales-ops");
  CHECK(Must(NormaliseTag("a\tb\nc")) == "a-b-c");
  CHECK(Must(NormaliseTag("C++")) == "c++");
  CHECK(Must(NormaliseTag("C#")) == "c#");
  CHECK(Must(NormaliseTag("Node.JS")) == "node.js");
  CHECK(Must(NormaliseTag("emea-2026")) == "emea-2026");
}

TEST_CASE("NormaliseTag rejects empty tags and names the offending character") {
  for (const char* raw : {"", "   ", "\t\n"}) {
    CAPTURE(raw);
    auto e = MustFail(NormaliseTag(raw));
    CHECK(e.code == ErrorCode::kInvalidArgument);
  }
  auto slash = MustFail(NormaliseTag("sales/ops"));
  CHECK(slash.code == ErrorCode::kInvalidArgument);
  CHECK(slash.detail.find("'/'") != std::string::npos);

  auto underscore = MustFail(NormaliseTag("a_b"));
  CHECK(underscore.detail.find("'_'") != std::string::npos);

  for (const char* raw : {"a,b", "a@b", "a!b", "a'b", "a\"b", "a*b", "(a)"}) {
    CAPTURE(raw);
    CHECK(MustFail(NormaliseTag(raw)).code == ErrorCode::kInvalidArgument);
  }
}

TEST_CASE("NormaliseTag rejects non-ASCII letters") {
  auto e = MustFail(NormaliseTag("caf\xC3\xA9"));
  CHECK(e.code == ErrorCode::kInvalidArgument);
  CHECK(e.detail.find("non-ASCII") != std::string::npos);
  CHECK(MustFail(NormaliseTag("\xC3\x89T\xC3\x89")).code == ErrorCode::kInvalidArgument);  // upper-case É is not folded
}

TEST_CASE("NormaliseTag limits the length of the normalised tag") {
  std::string max(kMaxTagChars, 'a');
  CHECK(Must(NormaliseTag(max)) == max);
  CHECK(Must(NormaliseTag("   " + max + "   ")) == max);  // surrounding whitespace does not count
  auto e = MustFail(NormaliseTag(max + "a"));
  CHECK(e.code == ErrorCode::kInvalidArgument);
  // Inner whitespace becomes one '-' per run, so "a   b" counts as 3 characters.
  std::string with_space(kMaxTagChars - 2, 'x');
  with_space += "     y";
  CHECK(Must(NormaliseTag(with_space)).size() == kMaxTagChars);
}

TEST_CASE("NormaliseTags normalises each tag and removes duplicates, first occurrence wins") {
  CHECK(Must(NormaliseTags({})).empty());
  auto tags = Must(NormaliseTags({"Beta", "alpha", " BETA ", "Sales Ops", "sales-ops", "alpha"}));
  CHECK(tags == std::vector<std::string>{"beta", "alpha", "sales-ops"});
}

TEST_CASE("NormaliseTags allows at most kMaxTags tags") {
  std::vector<std::string> ten;
  for (std::size_t i = 0; i < kMaxTags; ++i) ten.push_back("t" + std::to_string(i));
  CHECK(Must(NormaliseTags(ten)).size() == kMaxTags);

  auto eleven = ten;
  eleven.push_back("t99");
  auto e = MustFail(NormaliseTags(eleven));
  CHECK(e.code == ErrorCode::kInvalidArgument);
  REQUIRE(e.fields.size() == 1);
  CHECK(e.fields[0].pointer == "#/tags");
}

TEST_CASE("NormaliseTags points at the offending tag") {
  auto e = MustFail(NormaliseTags({"ok", "fine", "not/ok"}));
  CHECK(e.code == ErrorCode::kInvalidArgument);
  REQUIRE(e.fields.size() == 1);
  CHECK(e.fields[0].pointer == "#/tags/2");
  CHECK(e.fields[0].detail.find("'/'") != std::string::npos);

  auto non_ascii = MustFail(NormaliseTags({"caf\xC3\xA9"}));
  REQUIRE(non_ascii.fields.size() == 1);
  CHECK(non_ascii.fields[0].pointer == "#/tags/0");

  auto too_long = MustFail(NormaliseTags({"a", std::string(kMaxTagChars + 1, 'b')}));
  REQUIRE(too_long.fields.size() == 1);
  CHECK(too_long.fields[0].pointer == "#/tags/1");
}

TEST_CASE("NormaliseTitle trims and limits the title in code points") {
  CHECK(Must(NormaliseTitle("  How do I price EMEA renewals?\n")) == "How do I price EMEA renewals?");

  for (const char* raw : {"", "   ", "\t\r\n"}) {
    CAPTURE(raw);
    auto e = MustFail(NormaliseTitle(raw));
    CHECK(e.code == ErrorCode::kInvalidArgument);
    REQUIRE(e.fields.size() == 1);
    CHECK(e.fields[0].pointer == "#/title");
  }

  std::string ascii_max(kMaxTitleChars, 'x');
  CHECK(Must(NormaliseTitle(ascii_max)) == ascii_max);
  CHECK(MustFail(NormaliseTitle(ascii_max + "x")).code == ErrorCode::kInvalidArgument);

  // 300 two-byte characters are 600 bytes but still within the limit.
  std::string accented;
  for (std::size_t i = 0; i < kMaxTitleChars; ++i) accented += "\xC3\xA9";
  CHECK(Must(NormaliseTitle(accented)) == accented);
  CHECK(MustFail(NormaliseTitle(accented + "\xC3\xA9")).code == ErrorCode::kInvalidArgument);
}

TEST_CASE("CheckBodySize enforces the byte limit and optional emptiness") {
  CHECK(CheckBodySize("hello", 10, "body", false).ok());
  CHECK(CheckBodySize(std::string(10, 'x'), 10, "body", false).ok());

  auto over = CheckBodySize(std::string(11, 'x'), 10, "body", false);
  REQUIRE_FALSE(over.ok());
  CHECK(over.error().code == ErrorCode::kInvalidArgument);
  REQUIRE(over.error().fields.size() == 1);
  CHECK(over.error().fields[0].pointer == "#/body");

  // The limit is in bytes: 4 two-byte characters are 8 bytes.
  CHECK_FALSE(CheckBodySize("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9", 7, "body", false).ok());

  CHECK(CheckBodySize("", 10, "body", true).ok());
  auto empty = CheckBodySize("", 10, "comment", false);
  REQUIRE_FALSE(empty.ok());
  REQUIRE(empty.error().fields.size() == 1);
  CHECK(empty.error().fields[0].pointer == "#/comment");
  CHECK_FALSE(CheckBodySize(" \n\t ", 10, "body", false).ok());  // whitespace only counts as empty
}

TEST_CASE("IsValidDate accepts real calendar dates including leap days") {
  CHECK(IsValidDate("2026-01-01"));
  CHECK(IsValidDate("2026-12-31"));
  CHECK(IsValidDate("2026-04-30"));
  CHECK(IsValidDate("2026-02-28"));
  CHECK(IsValidDate("2024-02-29"));  // divisible by 4
  CHECK(IsValidDate("2000-02-29"));  // divisible by 400
}

TEST_CASE("IsValidDate rejects impossible dates and wrong shapes") {
  CHECK_FALSE(IsValidDate("2026-02-29"));  // not a leap year
  CHECK_FALSE(IsValidDate("2100-02-29"));  // divisible by 100 but not 400
  CHECK_FALSE(IsValidDate("2024-02-30"));
  CHECK_FALSE(IsValidDate("2026-04-31"));
  CHECK_FALSE(IsValidDate("2026-06-31"));
  CHECK_FALSE(IsValidDate("2026-01-32"));
  CHECK_FALSE(IsValidDate("2026-13-01"));
  CHECK_FALSE(IsValidDate("2026-00-10"));
  CHECK_FALSE(IsValidDate("2026-01-00"));
  CHECK_FALSE(IsValidDate(""));
  CHECK_FALSE(IsValidDate("2026-1-01"));
  CHECK_FALSE(IsValidDate("2026/01/01"));
  CHECK_FALSE(IsValidDate("2026-01-0a"));
  CHECK_FALSE(IsValidDate("+026-01-01"));
  CHECK_FALSE(IsValidDate("2026-01-01 "));
  CHECK_FALSE(IsValidDate("2026-01-01T00:00:00Z"));
}

TEST_SUITE_END();

}  // namespace
}  // namespace streetwise::core
