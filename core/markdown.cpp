#include "core/markdown.hpp"

#include <cmark.h>

#include <cstdlib>
#include <memory>

namespace streetwise::core {

std::string RenderMarkdown(std::string_view markdown) {
  // cmark 0.30 is safe unless CMARK_OPT_UNSAFE is passed; we never pass it.
  std::unique_ptr<char, decltype(&std::free)> html(
      cmark_markdown_to_html(markdown.data(), markdown.size(), CMARK_OPT_DEFAULT | CMARK_OPT_VALIDATE_UTF8),
      &std::free);
  return html ? std::string(html.get()) : std::string();
}

}  // namespace streetwise::core
