// CommonMark rendering (cmark behind this header).
#pragma once

#include <string>
#include <string_view>

namespace streetwise::core {

// Renders CommonMark to HTML safe to embed in a page: raw HTML blocks and inline HTML are replaced
// by comments, and links/images with javascript:, vbscript:, file: or non-image data: URLs are
// blanked (cmark's default "safe" mode). Thread-safe.
std::string RenderMarkdown(std::string_view markdown);

}  // namespace streetwise::core
