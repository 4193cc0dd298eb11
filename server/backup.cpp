#include "server/backup.hpp"

#include <boost/json.hpp>

#include <cstdio>
#include <fstream>

#include "core/clock.hpp"
#include "server/admin_client.hpp"
#include "service/backup.hpp"
#include "storage/store.hpp"

namespace streetwise::server {
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

// A backup that copies files (another file system) can take long; the server finishes it even if
// this client gives up.
constexpr std::chrono::seconds kOnlineBackupTimeout{3600};

void PrintDone(const fs::path& dir, std::uint64_t head, std::string_view how) {
  std::printf("backup written to %s (%s; change-log head %llu)\n", dir.c_str(), std::string(how).c_str(),
              static_cast<unsigned long long>(head));
}

// -1: no server answered (the caller goes offline); otherwise the exit code.
int BackupOnline(const std::string& address, const std::string& token, const fs::path& dir) {
  std::string body = json::serialize(json::object{{"path", dir.string()}});
  auto res = AdminRequest(address, "POST", "/v1/admin/backup", token, body, kOnlineBackupTimeout);
  if (!res) return -1;
  if (res->status == 401 || res->status == 403) {
    std::fprintf(stderr, "streetwise: the server at %s refused the root token; set STREETWISE_ROOT_TOKEN\n",
                 address.c_str());
    return 1;
  }
  json::error_code ec;
  auto v = json::parse(res->body, ec);
  if (res->status != 201 || ec || !v.is_object()) {
    std::string detail = res->body;
    if (!ec && v.is_object()) {
      if (auto* d = v.get_object().if_contains("detail"); d && d->is_string()) detail = std::string(d->get_string());
    }
    std::fprintf(stderr, "streetwise: backup failed (%d): %s\n", res->status, detail.c_str());
    return 1;
  }
  PrintDone(dir, v.get_object().at("change_log_head_seq").to_number<std::uint64_t>(), "taken by the running server");
  return 0;
}

int BackupOffline(const Config& config, const fs::path& dir) {
  auto store = storage::Store::Open(config.data_dir / "db", storage::StoreOptions{config.durability});
  if (!store) {
    if (store.error().code == core::ErrorCode::kUnavailable) {
      std::fprintf(stderr,
                   "streetwise: a server holds %s but did not answer at its DATA/listen-address; "
                   "check that it is reachable\n",
                   config.data_dir.c_str());
    } else {
      std::fprintf(stderr, "streetwise: cannot open %s: %s\n", config.data_dir.c_str(), store.error().detail.c_str());
    }
    return 1;
  }
  core::SystemClock clock;
  service::BackupService backups(**store, clock, config.data_dir);
  auto made = backups.Create(dir);
  if (!made) {
    std::fprintf(stderr, "streetwise: backup failed: %s%s%s\n", made.error().detail.c_str(),
                 made.error().cause.empty() ? "" : ": ", made.error().cause.c_str());
    return 1;
  }
  PrintDone(dir, made->change_log_head, "offline");
  return 0;
}

}  // namespace

int Backup(const Config& config, const fs::path& dir) {
  auto target = fs::absolute(dir).lexically_normal();
  std::ifstream addr_file(config.data_dir / "listen-address");
  std::string address;
  if (addr_file >> address) {
    int rc = BackupOnline(address, config.root_token, target);
    if (rc >= 0) return rc;
  }
  return BackupOffline(config, target);
}

int Restore(const Config& config, const fs::path& backup_dir, bool force) {
  auto restored = service::RestoreBackup(backup_dir, config.data_dir, force);
  if (!restored) {
    std::fprintf(stderr, "streetwise: restore failed: %s%s%s\n", restored.error().detail.c_str(),
                 restored.error().cause.empty() ? "" : ": ", restored.error().cause.c_str());
    return 1;
  }
  std::printf("restored %s (taken %s, change-log head %llu) into %s; the search index is rebuilt on the next start\n",
              backup_dir.c_str(), core::FormatRfc3339(restored->manifest.created_at).c_str(),
              static_cast<unsigned long long>(restored->change_log_head), config.data_dir.c_str());
  return 0;
}

}  // namespace streetwise::server
