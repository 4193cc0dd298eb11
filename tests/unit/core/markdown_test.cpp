#include "core/markdown.hpp"

#include <doctest/doctest.h>

#include <string>

namespace streetwise::core {
namespace {
TEST_SUITE_BEGIN("core");

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST_CASE("RenderMarkdown renders emphasis, code and links") {
  std::string html = RenderMarkdown("Use **annual** billing and `SKU-42`; see [docs](https://example.com/a?b=1).");
  CHECK(Contains(html, "<strong>annual</strong>"));
  CHECK(Contains(html, "<code>SKU-42</code>"));
  CHECK(Contains(html, "<a href=\"https://example.com/a?b=1\">docs</a>"));
  CHECK(Contains(html, "<p>"));
}

TEST_CASE("RenderMarkdown drops raw HTML blocks and inline HTML") {
  std::string block = RenderMarkdown("<script>alert(1)</script>\n\nafter");
  CHECK_FALSE(Contains(block, "<script"));
  CHECK_FALSE(Contains(block, "alert(1)"));
  CHECK(Contains(block, "<p>after</p>"));

  std::string inl = RenderMarkdown("hello <img src=x onerror=alert(1)> and <b onclick=\"x()\">bold</b>");
  CHECK_FALSE(Contains(inl, "<img"));
  CHECK_FALSE(Contains(inl, "onerror"));
  CHECK_FALSE(Contains(inl, "<b "));
  CHECK_FALSE(Contains(inl, "onclick"));
  CHECK(Contains(inl, "hello"));

  std::string iframe = RenderMarkdown("<iframe src=\"https://evil.example\"></iframe>");
  CHECK_FALSE(Contains(iframe, "<iframe"));
}

TEST_CASE("RenderMarkdown blanks dangerous link and image URLs") {
  std::string js = RenderMarkdown("[click](javascript:alert(1))");
  CHECK_FALSE(Contains(js, "javascript:"));
  CHECK(Contains(js, "<a href=\"\">click</a>"));

  CHECK_FALSE(Contains(RenderMarkdown("[x](JavaScript:alert(1))"), "alert"));
  CHECK_FALSE(Contains(RenderMarkdown("[x](vbscript:msgbox)"), "vbscript:"));
  CHECK_FALSE(Contains(RenderMarkdown("[x](file:///etc/passwd)"), "file:"));
  CHECK_FALSE(Contains(RenderMarkdown("![x](javascript:alert(1))"), "javascript:"));
  CHECK_FALSE(Contains(RenderMarkdown("<javascript:alert(1)>"), "href=\"javascript:"));
  CHECK_FALSE(Contains(RenderMarkdown("[x](data:text/html;base64,PHNjcmlwdD4=)"), "data:text/html"));
}

TEST_CASE("RenderMarkdown escapes text and survives empty or invalid input") {
  std::string html = RenderMarkdown("5 < 6 & \"quotes\"");
  CHECK(Contains(html, "5 &lt; 6 &amp;"));
  CHECK(RenderMarkdown("").empty());
  // Invalid UTF-8 is replaced rather than passed through.
  CHECK_FALSE(Contains(RenderMarkdown("bad \xff byte"), "\xff"));
}

TEST_SUITE_END();

}  // namespace
}  // namespace streetwise::core
