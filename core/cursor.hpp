// Opaque pagination cursors.
//
// A cursor is base64url("1|<filter fingerprint>|<last key>"). The fingerprint binds it to the query
// (organisation, route and filters) that issued it, so a cursor replayed against another query or
// tenant is rejected as kInvalidCursor rather than silently skipping or leaking anything.
#pragma once

#include <string>
#include <string_view>

#include "core/error.hpp"

namespace streetwise::core {

// A short fingerprint of everything that defines a result set (org, route, filters).
std::string QueryFingerprint(std::string_view canonical_query);

std::string EncodeCursor(std::string_view fingerprint, std::string_view last_key);

// Returns the last key, or kInvalidCursor if the cursor is malformed or was issued for another query.
Result<std::string> DecodeCursor(std::string_view cursor, std::string_view fingerprint);

}  // namespace streetwise::core
