// `streetwise bulk-load`: imports threads from JSON Lines into the default organisation, offline
// (the server must not be running). Used by the benchmarks and for seeding demo data.
#pragma once

#include <filesystem>

#include "server/config.hpp"

namespace streetwise::server {

// One JSON object per line: {title, body?, tags?, kind?, account?, region?, product?, needed_by?,
// deal_value?, answers?: [string], accepted?: index}. Prints progress to stderr. Returns an exit code.
int BulkLoad(const Config& config, const std::filesystem::path& file);

}  // namespace streetwise::server
