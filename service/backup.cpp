#include "service/backup.hpp"

#include <boost/json.hpp>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "storage/keys.hpp"

namespace streetwise::service {
using core::Error;
using core::ErrorCode;
using core::Result;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

constexpr std::string_view kManifestName = "backup.json";
constexpr std::string_view kManifestType = "streetwise-backup";

// fsyncs a directory so that entries created or renamed in it survive a power cut.
bool FsyncDir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

bool FsyncFile(const fs::path& file) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

// Writes `content` to `path` through a temporary file, fsynced and renamed, then fsyncs the
// directory: a reader sees the old file or the whole new one, never a torn one.
core::Status WriteFileDurably(const fs::path& path, const std::string& content) {
  auto tmp = path;
  tmp += ".tmp";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Error::Internal(fmt::format("cannot create {}: {}", tmp.string(), std::strerror(errno)));
  bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) && ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  std::error_code ec;
  if (ok) fs::rename(tmp, path, ec);
  if (!ok || ec) {
    fs::remove(tmp, ec);
    return Error::Internal(fmt::format("cannot write {}", path.string()));
  }
  FsyncDir(path.parent_path());
  return core::OkStatus();
}

// Copies the tree `from` to `to` (which must not exist), fsyncing every file and directory.
core::Status CopyTreeDurably(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::create_directories(to, ec);
  if (ec) return Error::Internal(fmt::format("cannot create {}: {}", to.string(), ec.message()));
  std::vector<fs::path> dirs{to};
  for (auto it = fs::recursive_directory_iterator(from, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    auto target = to / fs::relative(it->path(), from);
    if (it->is_directory()) {
      fs::create_directory(target, ec);
      dirs.push_back(target);
    } else if (it->is_regular_file()) {
      fs::copy_file(it->path(), target, ec);
      if (!ec && !FsyncFile(target)) {
        return Error::Internal(fmt::format("cannot fsync {}: {}", target.string(), std::strerror(errno)));
      }
    }
    if (ec) return Error::Internal(fmt::format("cannot copy {}: {}", it->path().string(), ec.message()));
  }
  if (ec) return Error::Internal(fmt::format("cannot read {}: {}", from.string(), ec.message()));
  // Children before parents, so each directory's entries are durable before its own entry is.
  for (auto d = dirs.rbegin(); d != dirs.rend(); ++d) FsyncDir(*d);
  return core::OkStatus();
}

// Whether `path` is `base` or lies below it (both made absolute and normalised; symlinks of
// existing parts resolved).
bool IsWithin(const fs::path& path, const fs::path& base) {
  std::error_code ec;
  auto p = fs::weakly_canonical(path, ec);
  if (ec) p = path.lexically_normal();
  auto b = fs::weakly_canonical(fs::absolute(base), ec);
  if (ec) b = fs::absolute(base).lexically_normal();
  auto pi = p.begin();
  for (auto bi = b.begin(); bi != b.end(); ++bi, ++pi) {
    if (bi->empty()) continue;  // a trailing separator
    if (pi == p.end() || *pi != *bi) return false;
  }
  return true;
}

bool IsEmptyDir(const fs::path& dir) {
  std::error_code ec;
  return fs::is_directory(dir, ec) && fs::is_empty(dir, ec) && !ec;
}

std::string EncodeManifest(const BackupManifest& m) {
  json::object o{{"type", kManifestType},
                 {"version", m.version},
                 {"format_version", m.format_version},
                 {"created_at", core::FormatRfc3339(m.created_at)},
                 {"change_log_head_seq", m.change_log_head},
                 {"db", "db"}};
  return json::serialize(o) + "\n";
}

}  // namespace

BackupService::BackupService(storage::Store& store, const core::Clock& clock, fs::path data_dir)
    : store_(store), clock_(clock), data_dir_(std::move(data_dir)) {}

Result<BackupManifest> BackupService::Create(const fs::path& dir) {
  auto invalid = [](std::string detail) {
    Error e = Error::Make(ErrorCode::kInvalidArgument, std::move(detail));
    e.fields.push_back({"#/path", e.detail});
    return e;
  };
  if (!dir.is_absolute()) return invalid(fmt::format("the backup path '{}' must be absolute", dir.string()));
  if (IsWithin(dir, data_dir_ / "db") || IsWithin(dir, data_dir_ / "index")) {
    return invalid(fmt::format("the backup path '{}' is inside the database or index directory", dir.string()));
  }
  std::unique_lock lock(running_, std::try_to_lock);
  if (!lock.owns_lock()) return Error::Make(ErrorCode::kConflict, "another backup is running; retry when it is done");

  std::error_code ec;
  bool existed = fs::exists(dir, ec);
  if (existed && !IsEmptyDir(dir)) {
    return Error::Make(ErrorCode::kConflict,
                       fmt::format("{} exists and is not an empty directory; choose a new path", dir.string()));
  }
  if (!existed) {
    fs::create_directories(dir, ec);
    if (ec) return invalid(fmt::format("cannot create {}: {}", dir.string(), ec.message()));
    FsyncDir(dir.parent_path());
  }
  auto cleanup = [&] {
    std::error_code ignored;  // best effort: the error being reported is the original one
    if (existed) {
      fs::remove_all(dir / "db", ignored);
    } else {
      fs::remove_all(dir, ignored);
    }
  };

  auto checkpoint = store_.Checkpoint(dir / "db");
  if (!checkpoint) {
    cleanup();
    return checkpoint.take_error();
  }
  BackupManifest m;
  m.format_version = storage::keys::kValueFormatVersion;
  m.created_at = clock_.Now();
  m.change_log_head = checkpoint->change_log_head;
  FsyncDir(dir);
  if (auto st = WriteFileDurably(dir / kManifestName, EncodeManifest(m)); !st) {
    cleanup();
    return st.take_error();
  }
  return m;
}

Result<BackupManifest> ReadBackupManifest(const fs::path& backup_dir) {
  std::error_code ec;
  auto path = backup_dir / kManifestName;
  if (!fs::exists(path, ec)) {
    return Error::Make(ErrorCode::kNotFound,
                       fmt::format("{} is missing: {} is not a finished streetwise backup", path.string(),
                                   backup_dir.string()));
  }
  if (!fs::is_directory(backup_dir / "db", ec)) {
    return Error::Make(ErrorCode::kNotFound, fmt::format("{} is missing", (backup_dir / "db").string()));
  }
  std::ifstream in(path);
  std::stringstream buf;
  buf << in.rdbuf();
  auto bad = [&](std::string_view why) {
    return Error::Make(ErrorCode::kInvalidArgument, fmt::format("{}: {}", path.string(), why));
  };
  json::error_code jec;
  auto v = json::parse(buf.str(), jec);
  if (jec || !v.is_object()) return bad("not a JSON object");
  const auto& o = v.get_object();
  auto* type = o.if_contains("type");
  if (!type || !type->is_string() || type->get_string() != kManifestType) return bad("not a streetwise backup manifest");
  BackupManifest m;
  auto* version = o.if_contains("version");
  auto* format = o.if_contains("format_version");
  auto* created = o.if_contains("created_at");
  auto* head = o.if_contains("change_log_head_seq");
  if (!version || !version->is_int64() || !format || !format->is_int64() || !created || !created->is_string() ||
      !head || !(head->is_int64() || head->is_uint64())) {
    return bad("missing or mistyped version, format_version, created_at or change_log_head_seq");
  }
  m.version = version->get_int64();
  m.format_version = format->get_int64();
  if (m.version != kBackupManifestVersion) {
    return bad(fmt::format("manifest version {} is not supported (this build reads {})", m.version,
                           kBackupManifestVersion));
  }
  if (m.format_version != storage::keys::kValueFormatVersion) {
    return bad(fmt::format("storage format {} is not supported (this build reads {})", m.format_version,
                           storage::keys::kValueFormatVersion));
  }
  auto at = core::ParseTimestamp(created->get_string());
  if (!at) return bad("created_at is not an RFC 3339 time");
  m.created_at = *at;
  m.change_log_head = head->to_number<std::uint64_t>();
  return m;
}

Result<RestoreResult> RestoreBackup(const fs::path& backup_dir, const fs::path& data_dir, bool force) {
  auto manifest = ReadBackupManifest(backup_dir);
  if (!manifest) return manifest.take_error();
  std::error_code ec;
  if (fs::exists(data_dir, ec) && !IsEmptyDir(data_dir)) {
    if (!fs::is_directory(data_dir, ec)) {
      return Error::Make(ErrorCode::kConflict, fmt::format("{} is not a directory", data_dir.string()));
    }
    if (!force) {
      return Error::Make(ErrorCode::kConflict,
                         fmt::format("the data directory {} is not empty; pass --force to replace its database "
                                     "(admin-token and other files are kept)",
                                     data_dir.string()));
    }
  }
  auto db = data_dir / "db";
  if (fs::exists(db, ec)) {
    // Opening takes RocksDB's lock: this is how a running server is detected. A database that
    // cannot be opened for another reason is exactly what a forced restore may replace.
    auto probe = storage::Store::Open(db, storage::StoreOptions{storage::Durability::kOs, 8u << 20});
    if (!probe && probe.error().code == ErrorCode::kUnavailable) {
      return Error::Make(ErrorCode::kUnavailable,
                         fmt::format("{} is in use (is the server running?); stop it first", db.string()));
    }
  }

  fs::create_directories(data_dir, ec);
  if (ec) return Error::Internal(fmt::format("cannot create {}: {}", data_dir.string(), ec.message()));
  auto incoming = data_dir / "db.restoring";
  auto outgoing = data_dir / "db.replaced";
  fs::remove_all(incoming, ec);
  fs::remove_all(outgoing, ec);
  if (auto st = CopyTreeDurably(backup_dir / "db", incoming); !st) {
    fs::remove_all(incoming, ec);
    return st.take_error();
  }
  // Swap by renames, so a crash leaves either database complete under its own name.
  if (fs::exists(db, ec)) {
    fs::rename(db, outgoing, ec);
    if (ec) return Error::Internal(fmt::format("cannot move {} aside: {}", db.string(), ec.message()));
  }
  fs::rename(incoming, db, ec);
  if (ec) return Error::Internal(fmt::format("cannot rename {} to {}: {}", incoming.string(), db.string(), ec.message()));
  FsyncDir(data_dir);
  fs::remove_all(outgoing, ec);
  fs::remove_all(data_dir / "index", ec);
  if (ec) return Error::Internal(fmt::format("cannot remove {}: {}", (data_dir / "index").string(), ec.message()));
  fs::remove(data_dir / "listen-address", ec);

  RestoreResult out;
  out.manifest = std::move(manifest).value();
  {
    auto store = storage::Store::Open(db, storage::StoreOptions{});
    if (!store) return Error::Internal(fmt::format("the restored database does not open: {}", store.error().cause));
    out.change_log_head = (*store)->VisibleHead();
    if (auto st = (*store)->Flush(); !st) return st.take_error();
  }
  if (out.change_log_head < out.manifest.change_log_head) {
    return Error::Internal(fmt::format("the restored change log ends at {}, but the manifest promises {}",
                                       out.change_log_head, out.manifest.change_log_head));
  }
  return out;
}

}  // namespace streetwise::service
