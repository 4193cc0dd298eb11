#include "core/crypto.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <string>
#include <string_view>

namespace streetwise::core {
namespace {
TEST_SUITE_BEGIN("core");

constexpr std::string_view kBase62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr std::string_view kPrefix = "sw_pat_";

bool IsLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

TEST_CASE("NewTokenSecret has the documented shape and a valid checksum") {
  std::set<std::string> seen;
  for (int i = 0; i < 20; ++i) {
    std::string s = NewTokenSecret();
    CAPTURE(s);
    CHECK(s.size() == kPrefix.size() + 32 + 6);
    CHECK(s.substr(0, kPrefix.size()) == kPrefix);
    std::string_view rest = std::string_view(s).substr(kPrefix.size());
    CHECK(std::all_of(rest.begin(), rest.end(), [](char c) { return kBase62.find(c) != std::string_view::npos; }));
    CHECK(IsWellFormedTokenSecret(s));
    seen.insert(s);
  }
  CHECK(seen.size() == 20);
}

TEST_CASE("IsWellFormedTokenSecret rejects every one-character typo") {
  const std::string good = NewTokenSecret();
  REQUIRE(IsWellFormedTokenSecret(good));
  // Substitute each character after the prefix (random part and checksum) with another base62 char.
  for (std::size_t pos = kPrefix.size(); pos < good.size(); ++pos) {
    for (char replacement : {'0', 'Z', 'z', 'm'}) {
      if (good[pos] == replacement) continue;
      std::string typo = good;
      typo[pos] = replacement;
      CAPTURE(pos);
      CAPTURE(typo);
      CHECK_FALSE(IsWellFormedTokenSecret(typo));
    }
  }
  // Swapping two adjacent different characters is also caught.
  for (std::size_t pos = kPrefix.size(); pos + 1 < good.size(); ++pos) {
    if (good[pos] == good[pos + 1]) continue;
    std::string swapped = good;
    std::swap(swapped[pos], swapped[pos + 1]);
    CAPTURE(pos);
    CHECK_FALSE(IsWellFormedTokenSecret(swapped));
  }
}

TEST_CASE("IsWellFormedTokenSecret rejects wrong prefixes, lengths and alphabets") {
  const std::string good = NewTokenSecret();
  CHECK_FALSE(IsWellFormedTokenSecret(""));
  CHECK_FALSE(IsWellFormedTokenSecret(kPrefix));
  CHECK_FALSE(IsWellFormedTokenSecret(good.substr(0, good.size() - 1)));
  CHECK_FALSE(IsWellFormedTokenSecret(good + "0"));
  CHECK_FALSE(IsWellFormedTokenSecret("sw_pak_" + good.substr(kPrefix.size())));
  CHECK_FALSE(IsWellFormedTokenSecret("SW_PAT_" + good.substr(kPrefix.size())));
  CHECK_FALSE(IsWellFormedTokenSecret(" " + good.substr(1)));
  std::string dash = good;
  dash[kPrefix.size() + 3] = '-';
  CHECK_FALSE(IsWellFormedTokenSecret(dash));
}

TEST_CASE("NewId embeds the time so later ids sort after earlier ones") {
  const TimePoint t0 = FromUnixMillis(1'780'000'000'000);
  std::string id = NewId("t", t0);
  CHECK(id.size() == 1 + 12 + 16);
  CHECK(id[0] == 't');
  CHECK(IsLowerHex(std::string_view(id).substr(1)));
  CHECK(id.substr(1, 12) == "019e70448800");  // 1780000000000 ms in 12 hex digits

  // Fixed width: 15 ms ("00..0f") sorts before 16 ms ("00..10").
  CHECK(NewId("a", FromUnixMillis(15)) < NewId("a", FromUnixMillis(16)));
  CHECK(NewId("a", FromUnixMillis(0xFFF)) < NewId("a", FromUnixMillis(0x1000)));

  std::string prev = NewId("t", t0);
  for (int i = 1; i <= 50; ++i) {
    std::string next = NewId("t", t0 + std::chrono::milliseconds(i));
    CHECK(prev < next);
    prev = next;
  }
  // Same millisecond: different (random) ids with the same time part.
  std::string x = NewId("t", t0), y = NewId("t", t0);
  CHECK(x != y);
  CHECK(x.substr(0, 13) == y.substr(0, 13));
}

TEST_CASE("Sha256Hex matches known vectors") {
  CHECK(Sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(Sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("ConstantTimeEquals compares content and length") {
  CHECK(ConstantTimeEquals("", ""));
  CHECK(ConstantTimeEquals("abc", "abc"));
  CHECK_FALSE(ConstantTimeEquals("abc", "abd"));
  CHECK_FALSE(ConstantTimeEquals("abc", "Abc"));
  CHECK_FALSE(ConstantTimeEquals("abc", "abcd"));
  CHECK_FALSE(ConstantTimeEquals("abcd", "abc"));
  CHECK_FALSE(ConstantTimeEquals("", "a"));
  CHECK(ConstantTimeEquals(std::string_view("a\0b", 3), std::string_view("a\0b", 3)));
  CHECK_FALSE(ConstantTimeEquals(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
}

TEST_CASE("RandomBytes returns the requested number of bytes") {
  CHECK(RandomBytes(0).empty());
  CHECK(RandomBytes(32).size() == 32);
  CHECK(RandomBytes(32) != RandomBytes(32));
}

TEST_SUITE_END();

}  // namespace
}  // namespace streetwise::core
