// `streetwise backup` and `streetwise restore`: the CLI side of service/backup.hpp.
#pragma once

#include <filesystem>

#include "server/config.hpp"

namespace streetwise::server {

// Backs up the data directory into `dir` (made absolute against the working directory). If
// DATA/listen-address names a server that answers, the running server takes the backup
// (POST /v1/admin/backup with config.root_token); otherwise the store is opened and checkpointed
// directly. Prints a summary to stdout and errors to stderr. Returns the exit code: 0 done,
// 1 failed.
int Backup(const Config& config, const std::filesystem::path& dir);

// Restores the backup in `backup_dir` into config.data_dir (server stopped). `force` allows a
// non-empty data directory (its database is replaced; admin-token is kept). Returns the exit
// code: 0 done, 1 failed.
int Restore(const Config& config, const std::filesystem::path& backup_dir, bool force);

}  // namespace streetwise::server
