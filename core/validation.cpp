#include "core/validation.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace streetwise::core {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

bool IsTagChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '#' || c == '.' || c == '-';
}

Error FieldInvalid(std::string pointer, std::string detail) {
  Error e = Error::Make(ErrorCode::kInvalidArgument, detail);
  e.fields.push_back({std::move(pointer), std::move(detail)});
  return e;
}

// Length of the well-formed UTF-8 sequence at the start of `s` (1..4), or 0 with `*bad` set to
// the length of its maximal ill-formed subpart (>= 1). `s` is not empty. The ranges are those of
// Unicode's Table 3-7, so overlongs, surrogates and code points above U+10FFFF are ill-formed.
std::size_t Utf8SequenceLength(std::string_view s, std::size_t* bad) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char lead = byte(0);
  if (lead < 0x80) return 1;
  std::size_t need = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    need = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    need = 3;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    need = 4;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
  } else {
    *bad = 1;
    return 0;
  }
  std::size_t i = 1;
  for (; i < need && i < s.size(); ++i) {
    unsigned char c = byte(i);
    bool ok = i == 1 ? (c >= lo && c <= hi) : (c >= 0x80 && c <= 0xBF);
    if (!ok) break;
  }
  if (i == need) return need;
  *bad = i;
  return 0;
}

template <typename OnInvalid>
std::string RepairUtf8(std::string_view s, OnInvalid on_invalid) {
  if (IsValidUtf8(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  while (!s.empty()) {
    std::size_t bad = 0;
    std::size_t n = Utf8SequenceLength(s, &bad);
    if (n > 0) {
      out.append(s.substr(0, n));
      s.remove_prefix(n);
    } else {
      on_invalid(out, s.substr(0, bad));
      s.remove_prefix(bad);
    }
  }
  return out;
}

}  // namespace

std::string ToValidUtf8(std::string_view s) {
  return RepairUtf8(s, [](std::string& out, std::string_view) { out += "\xEF\xBF\xBD"; });  // U+FFFD
}

std::string PercentEscapeInvalidUtf8(std::string_view s) {
  return RepairUtf8(s, [](std::string& out, std::string_view bytes) {
    for (unsigned char c : bytes) fmt::format_to(std::back_inserter(out), "%{:02X}", c);
  });
}

bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int n = 0;
    std::uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (end - p <= n) return false;
    for (int i = 1; i <= n; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)) return false;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    p += n + 1;
  }
  return true;
}

std::size_t CountCodePoints(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

Result<std::string> NormaliseTag(std::string_view raw) {
  std::string_view t = Trim(raw);
  std::string out;
  out.reserve(t.size());
  bool in_space = false;
  for (char c : t) {
    if (IsSpace(c)) {
      in_space = true;
      continue;
    }
    if (in_space) {
      out.push_back('-');
      in_space = false;
    }
    char lc = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if (!IsTagChar(lc)) {
      if (static_cast<unsigned char>(c) >= 0x80) {
        return Error::Make(ErrorCode::kInvalidArgument,
                           fmt::format("tag '{}' contains a non-ASCII character; allowed are a-z 0-9 + # . -",
                                       std::string(t)));
      }
      return Error::Make(ErrorCode::kInvalidArgument,
                         fmt::format("tag '{}' contains '{}'; allowed are a-z 0-9 + # . -", std::string(t), c));
    }
    out.push_back(lc);
  }
  if (out.empty()) return Error::Make(ErrorCode::kInvalidArgument, "tag is empty");
  if (out.size() > kMaxTagChars) {
    return Error::Make(ErrorCode::kInvalidArgument,
                       fmt::format("tag '{}' is longer than {} characters", out, kMaxTagChars));
  }
  return out;
}

Result<std::vector<std::string>> NormaliseTags(const std::vector<std::string>& raw) {
  if (raw.size() > kMaxTags) {
    return FieldInvalid("#/tags", fmt::format("at most {} tags are allowed, got {}", kMaxTags, raw.size()));
  }
  std::vector<std::string> out;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    auto tag = NormaliseTag(raw[i]);
    if (!tag) return FieldInvalid(fmt::format("#/tags/{}", i), tag.error().detail);
    if (std::find(out.begin(), out.end(), *tag) == out.end()) out.push_back(std::move(tag).value());
  }
  return out;
}

Result<std::string> NormaliseTitle(std::string_view raw) {
  std::string_view t = Trim(raw);
  if (t.empty()) return FieldInvalid("#/title", "title must not be empty");
  std::size_t n = CountCodePoints(t);
  if (n > kMaxTitleChars) {
    return FieldInvalid("#/title", fmt::format("title is {} characters long; the maximum is {}", n, kMaxTitleChars));
  }
  return std::string(t);
}

Status CheckBodySize(std::string_view body, std::size_t max_bytes, std::string_view field, bool allow_empty) {
  if (!allow_empty && Trim(body).empty()) {
    return FieldInvalid(fmt::format("#/{}", field), fmt::format("{} must not be empty", field));
  }
  if (body.size() > max_bytes) {
    return FieldInvalid(fmt::format("#/{}", field),
                        fmt::format("{} is {} bytes; the maximum is {}", field, body.size(), max_bytes));
  }
  return OkStatus();
}

bool IsValidDate(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  auto num = [&](std::size_t pos, std::size_t len, int& out) {
    for (std::size_t i = pos; i < pos + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
    }
    return std::from_chars(s.data() + pos, s.data() + pos + len, out).ec == std::errc();
  };
  int y = 0, m = 0, d = 0;
  if (!num(0, 4, y) || !num(5, 2, m) || !num(8, 2, d)) return false;
  if (y < 1970 || m < 1 || m > 12 || d < 1) return false;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  int max_day = kDays[m - 1] + ((m == 2 && leap) ? 1 : 0);
  return d <= max_day;
}

}  // namespace streetwise::core
