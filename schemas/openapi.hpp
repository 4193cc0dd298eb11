// The API contract (schemas/openapi.yaml) embedded as JSON at build time.
#pragma once

#include <string_view>

namespace streetwise::schemas {

// The OpenAPI 3.1 document as compact JSON. Static storage; never null.
std::string_view OpenApiJson();

}  // namespace streetwise::schemas
