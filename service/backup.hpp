// Backups of the database and restoring them.
//
// A backup is a directory:
//   BACKUP/db/          a RocksDB checkpoint of DATA/db, openable as it is
//   BACKUP/backup.json  the manifest (BackupManifest), written last: a directory without it is an
//                       unfinished backup, and RestoreBackup refuses it
// The search index (DATA/index) is not part of a backup: it is derived from the database and is
// rebuilt on the first start after a restore. DATA/admin-token is not either: it is a secret, and
// the tokens themselves (their hashes) are in the database.
//
// Blocking (file copies, fsync, RocksDB flush): never call these on an I/O thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <mutex>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "storage/store.hpp"

namespace streetwise::service {

// The layout version of backup.json.
inline constexpr std::int64_t kBackupManifestVersion = 1;

struct BackupManifest {
  std::int64_t version = kBackupManifestVersion;
  std::int64_t format_version = 0;    // storage value format of the copy (storage::keys::kValueFormatVersion)
  core::TimePoint created_at;
  std::uint64_t change_log_head = 0;  // every change-log event with seq <= this is in the backup
};

class BackupService {
 public:
  // `store` and `clock` must outlive the service. `data_dir` is the data directory that holds the
  // store (DATA/db); backups inside DATA/db or DATA/index are refused.
  BackupService(storage::Store& store, const core::Clock& clock, std::filesystem::path data_dir);

  // Writes a backup of the running store into `dir`: `dir` is created (with its parents) if
  // missing, and must be empty if it exists. Every commit acknowledged before the call is in the
  // backup. Runs concurrently with commits; only one backup at a time.
  // Errors: kInvalidArgument for a relative `dir`, one inside DATA/db or DATA/index, or one that
  // cannot be created (detail names the path and the reason); kConflict if `dir` is not empty or
  // another backup is running; kInternal for storage failures. After a failure, nothing this call
  // created is left behind.
  core::Result<BackupManifest> Create(const std::filesystem::path& dir);

 private:
  storage::Store& store_;
  const core::Clock& clock_;
  std::filesystem::path data_dir_;
  std::mutex running_;  // held while a backup runs
};

// Reads BACKUP/backup.json and checks that BACKUP/db exists. kNotFound if either is missing (not a
// finished backup); kInvalidArgument if the manifest cannot be read or has a version or storage
// format this build does not know.
core::Result<BackupManifest> ReadBackupManifest(const std::filesystem::path& backup_dir);

struct RestoreResult {
  BackupManifest manifest;
  std::uint64_t change_log_head = 0;  // of the restored database, as opened after the copy
};

// Restores the backup in `backup_dir` into the data directory `data_dir` of a STOPPED server:
// copies BACKUP/db to DATA/db (fsynced; the old DATA/db is swapped out by rename and deleted only
// once the copy is complete), deletes DATA/index so the search index is rebuilt on the next start,
// deletes a stale DATA/listen-address, and opens the result once to check it. DATA/admin-token and
// any other file are left alone. A `data_dir` that exists and is not empty is refused unless
// `force`. Errors: those of ReadBackupManifest; kConflict for a non-empty `data_dir` without
// `force`; kUnavailable if a running server holds DATA/db; kInternal for copy or open failures.
core::Result<RestoreResult> RestoreBackup(const std::filesystem::path& backup_dir,
                                          const std::filesystem::path& data_dir, bool force);

}  // namespace streetwise::service
