#include "core/cursor.hpp"

#include "core/crypto.hpp"

namespace streetwise::core {
namespace {
constexpr std::string_view kVersion = "1";
constexpr std::size_t kMaxCursorChars = 1024;
}  // namespace

std::string QueryFingerprint(std::string_view canonical_query) { return Sha256Hex(canonical_query).substr(0, 16); }

std::string EncodeCursor(std::string_view fingerprint, std::string_view last_key) {
  std::string raw;
  raw.append(kVersion).append("|").append(fingerprint).append("|").append(last_key);
  return Base64UrlEncode(raw);
}

Result<std::string> DecodeCursor(std::string_view cursor, std::string_view fingerprint) {
  auto invalid = [] {
    return Error::Make(ErrorCode::kInvalidCursor, "the cursor is not valid for this query; start again without it");
  };
  if (cursor.empty() || cursor.size() > kMaxCursorChars) return invalid();
  std::string raw;
  if (!Base64UrlDecode(cursor, raw)) return invalid();
  std::string_view v(raw);
  auto bar1 = v.find('|');
  if (bar1 == std::string_view::npos || v.substr(0, bar1) != kVersion) return invalid();
  v.remove_prefix(bar1 + 1);
  auto bar2 = v.find('|');
  if (bar2 == std::string_view::npos || !ConstantTimeEquals(v.substr(0, bar2), fingerprint)) return invalid();
  v.remove_prefix(bar2 + 1);
  if (v.empty()) return invalid();
  return std::string(v);
}

}  // namespace streetwise::core
