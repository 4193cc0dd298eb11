// Pure input validation and rendering in core/: UTF-8 checks, tag/title normalisation, dates and
// timestamps, and the CommonMark renderer every answer and thread body goes through.
//
// The whole input is fed to each function (the first byte also picks end-of-day for dates).
// Properties: no crash or sanitizer report; normalised tags and titles satisfy their documented
// invariants and normalisation is idempotent; a parsed timestamp formats back to itself; rendered
// Markdown never contains a script element or a javascript: link.
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/markdown.hpp"
#include "core/validation.hpp"
#include "fuzz_support.hpp"

namespace {
using namespace streetwise;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsTagChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '#' || c == '.' || c == '-';
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  bool valid = core::IsValidUtf8(in);
  FUZZ_CHECK(core::CountCodePoints(in) <= in.size(), "more code points than bytes");

  if (auto tag = core::NormaliseTag(in)) {
    FUZZ_CHECK(!tag->empty() && tag->size() <= core::kMaxTagChars, *tag);
    FUZZ_CHECK(std::all_of(tag->begin(), tag->end(), IsTagChar), *tag);
    auto again = core::NormaliseTag(*tag);
    FUZZ_CHECK(again && *again == *tag, *tag);
  } else {
    FUZZ_CHECK(tag.error().code == core::ErrorCode::kInvalidArgument, tag.error().detail);
  }

  if (auto title = core::NormaliseTitle(in)) {
    FUZZ_CHECK(!title->empty() && core::Trim(*title).size() == title->size(), *title);
    FUZZ_CHECK(core::CountCodePoints(*title) <= core::kMaxTitleChars, *title);
    auto again = core::NormaliseTitle(*title);
    FUZZ_CHECK(again && *again == *title, *title);
  }

  bool end_of_day = size > 0 && (data[0] & 1);
  if (auto t = core::ParseTimestamp(in, end_of_day)) {
    FUZZ_CHECK(core::IsValidDate(in.substr(0, 10)), std::string(in));
    std::string formatted = core::FormatRfc3339(*t);
    // A leap second on 9999-12-31 normalises into year 10000, which has no 4-digit form.
    if (formatted.size() == 24) {
      auto back = core::ParseTimestamp(formatted);
      FUZZ_CHECK(back && *back == *t, formatted);
    }
  }

  // Bodies reach the renderer only after the API's UTF-8 check.
  if (valid) {
    std::string html = Lower(core::RenderMarkdown(in));
    FUZZ_CHECK(html.find("<script") == std::string::npos, html);
    FUZZ_CHECK(html.find("href=\"javascript:") == std::string::npos, html);
    FUZZ_CHECK(html.find("src=\"javascript:") == std::string::npos, html);
  }
  return 0;
}
