// Pure validation and normalisation of user input. No I/O; unit-tested in tests/unit/core.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace streetwise::core {

inline constexpr std::size_t kMaxTitleChars = 300;
inline constexpr std::size_t kMaxBodyBytes = 64 * 1024;
inline constexpr std::size_t kMaxCommentBytes = 8 * 1024;
inline constexpr std::size_t kMaxTags = 10;
inline constexpr std::size_t kMaxTagChars = 40;
inline constexpr std::size_t kMaxNameChars = 100;

// True if `s` is well-formed UTF-8 (no overlongs, no surrogates).
bool IsValidUtf8(std::string_view s);

// `s` made well-formed UTF-8 for text meant for people (problem details, logs): every maximal
// ill-formed subpart (Unicode 15, section 3.9, "U+FFFD substitution of maximal subparts") becomes
// one U+FFFD. Valid input comes back unchanged. Pure; never fails.
std::string ToValidUtf8(std::string_view s);

// `s` made well-formed UTF-8 by writing every byte of an ill-formed sequence as %XX (upper-case
// hex), for URI references such as a problem's "instance": "/\xff" -> "/%FF". Valid input,
// including any '%' it holds, comes back unchanged. Pure; never fails.
std::string PercentEscapeInvalidUtf8(std::string_view s);

// Number of Unicode code points in a valid UTF-8 string.
std::size_t CountCodePoints(std::string_view s);

// Removes leading and trailing ASCII whitespace.
std::string_view Trim(std::string_view s);

// Normalises one tag: trimmed, lower-cased, inner whitespace runs become '-'. The result must be
// 1..kMaxTagChars characters from [a-z0-9+#.-]. Errors are kInvalidArgument with a message that
// names the offending character.
Result<std::string> NormaliseTag(std::string_view raw);

// Normalises a tag list: each tag as above, duplicates removed (first occurrence wins), at most
// kMaxTags. Field errors point at "#/tags/<i>" (or "#/tags" for the count).
Result<std::vector<std::string>> NormaliseTags(const std::vector<std::string>& raw);

// Validates and trims a title: 1..kMaxTitleChars code points after trimming.
Result<std::string> NormaliseTitle(std::string_view raw);

// Checks a Markdown body's size in bytes; `field` names it in the error ("body").
Status CheckBodySize(std::string_view body, std::size_t max_bytes, std::string_view field, bool allow_empty);

// Validates a calendar date "YYYY-MM-DD" (real month lengths, leap years).
bool IsValidDate(std::string_view s);

}  // namespace streetwise::core
