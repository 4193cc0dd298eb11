// Pagination cursors: bytes -> core::DecodeCursor / core::Base64UrlDecode.
//
// The whole input is tried as a cursor (for a fixed query fingerprint) and as base64url; it is
// also used as the last key of a freshly encoded cursor.
// Properties: no crash or sanitizer report; a cursor only decodes for the fingerprint it was
// issued for; encode -> decode returns the key; whatever base64url-decodes re-encodes to
// something that decodes to the same bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/crypto.hpp"
#include "core/cursor.hpp"
#include "fuzz_support.hpp"

namespace {
using namespace streetwise;

const std::string& Fingerprint() {
  static const std::string fp = core::QueryFingerprint("org_1|/v1/threads|status=open");
  return fp;
}

const std::string& OtherFingerprint() {
  static const std::string fp = core::QueryFingerprint("org_2|/v1/threads|status=open");
  return fp;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);

  // Untrusted cursor text, as it arrives in ?cursor=.
  auto key = core::DecodeCursor(in, Fingerprint());
  if (key) {
    FUZZ_CHECK(!key->empty(), "decoded an empty key");
    FUZZ_CHECK(!core::DecodeCursor(in, OtherFingerprint()), "cursor accepted for another query");
    auto again = core::DecodeCursor(core::EncodeCursor(Fingerprint(), *key), Fingerprint());
    FUZZ_CHECK(again && *again == *key, *key);
  } else {
    FUZZ_CHECK(key.error().code == core::ErrorCode::kInvalidCursor, key.error().detail);
  }

  std::string raw;
  if (core::Base64UrlDecode(in, raw)) {
    std::string reencoded = core::Base64UrlEncode(raw);
    std::string raw2;
    FUZZ_CHECK(core::Base64UrlDecode(reencoded, raw2) && raw2 == raw, reencoded);
    FUZZ_CHECK(reencoded.size() == in.size(), "base64url length changed on re-encoding");
  }

  // The input as the last key of a cursor we issue.
  if (!in.empty()) {
    std::string cursor = core::EncodeCursor(Fingerprint(), in);
    std::string decoded;
    FUZZ_CHECK(core::Base64UrlDecode(cursor, decoded), cursor);
    auto back = core::DecodeCursor(cursor, Fingerprint());
    if (cursor.size() <= 1024) {
      FUZZ_CHECK(back && *back == in, cursor);
      FUZZ_CHECK(!core::DecodeCursor(cursor, OtherFingerprint()), "cursor accepted for another query");
    }
  }
  return 0;
}
