// `streetwise export` and `streetwise import`: one organisation as JSON Lines, offline (the
// server must be stopped: both open DATA/db directly). The file format is described in
// docs/operations.md ("Export and import"); service/org_transfer.hpp does the reading and writing
// of the store.
#pragma once

#include <filesystem>
#include <string>

#include "server/config.hpp"

namespace streetwise::server {

// Version of the export file format (the header's "version").
inline constexpr std::int64_t kExportFormatVersion = 1;

// Writes organisation `org_id` of config.data_dir to `out` ("-" = stdout): a header line, one line
// per user (no tokens), one per thread (answers, comments, votes and revisions inside) and an
// "end" line with the counts. A file is written to `out`.tmp and renamed when complete. Progress
// goes to stderr. Returns the exit code: 0 done, 1 failed.
int ExportOrg(const Config& config, const std::string& org_id, const std::filesystem::path& out);

// Reads an export file and creates a NEW organisation from it in config.data_dir. The whole file
// is checked before anything is written. Prints {"org_id", "org_name", "admin_user_id",
// "admin_token", "users", "threads"} as one JSON line to stdout; progress and errors go to stderr.
// Returns the exit code: 0 done, 1 failed, 3 the file failed the check (nothing was written).
int ImportOrg(const Config& config, const std::filesystem::path& file);

}  // namespace streetwise::server
