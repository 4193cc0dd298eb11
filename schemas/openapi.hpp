// The API contract (schemas/openapi.yaml) embedded as JSON at build time.
#pragma once

#include <string_view>

namespace streetwise::schemas {

// The OpenAPI 3.1 document as compact JSON. Static storage; never null.
std::string_view OpenApiJson();

// A static HTML reference page rendered from the same document (served at /docs; no scripts, no
// external resources).
std::string_view ApiReferenceHtml();

}  // namespace streetwise::schemas
