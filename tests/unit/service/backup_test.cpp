#include "service/backup.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <memory>
#include <string>

#include "service/account_service.hpp"
#include "service/thread_service.hpp"
#include "storage/keys.hpp"
#include "storage/store.hpp"
#include "unit/support/test_support.hpp"

namespace streetwise::service {
namespace {
TEST_SUITE_BEGIN("service");
using core::ErrorCode;
using testing::Must;
using testing::MustFail;
namespace fs = std::filesystem;

storage::StoreOptions Options() {
  storage::StoreOptions o;
  o.durability = storage::Durability::kOs;
  o.block_cache_bytes = 8u << 20;
  return o;
}

// A data directory (DATA/db with one org and a few threads) and a place for backups.
struct BackupFixture {
  testing::TempDir tmp;
  testing::FakeClock clock;
  fs::path data = tmp.path() / "data";
  std::unique_ptr<storage::Store> store = Must(storage::Store::Open(data / "db", Options()));
  AccountService accounts{*store, clock};
  ThreadService threads{*store, clock};
  BackupService backups{*store, clock, data};
  Caller admin;

  BackupFixture() {
    auto org = Must(accounts.CreateOrg("Acme", "Ada", std::nullopt));
    admin = Must(accounts.Authenticate(org.value.token.secret));
  }
  std::string NewThread(const std::string& title) {
    NewThreadInput in;
    in.title = title;
    return Must(threads.Create(admin, in, std::nullopt)).value.id;
  }
};

TEST_CASE("BackupService::Create writes a checkpoint and a manifest that ReadBackupManifest accepts") {
  BackupFixture f;
  f.NewThread("one");
  f.NewThread("two");
  auto head = f.store->VisibleHead();
  auto m = Must(f.backups.Create(f.tmp.path() / "backups" / "b1"));  // parents are created
  CHECK(m.change_log_head == head);
  CHECK(m.format_version == storage::keys::kValueFormatVersion);
  CHECK(m.created_at == f.clock.Now());
  CHECK(fs::is_directory(f.tmp.path() / "backups" / "b1" / "db"));
  auto read = Must(ReadBackupManifest(f.tmp.path() / "backups" / "b1"));
  CHECK(read.change_log_head == head);
  CHECK(read.created_at == m.created_at);
}

TEST_CASE("BackupService::Create refuses bad targets and leaves nothing behind") {
  BackupFixture f;
  CHECK(MustFail(f.backups.Create("relative")).code == ErrorCode::kInvalidArgument);
  CHECK(MustFail(f.backups.Create(f.data / "db" / "inside")).code == ErrorCode::kInvalidArgument);
  CHECK(MustFail(f.backups.Create(f.data / "index" / "x")).code == ErrorCode::kInvalidArgument);
  fs::create_directories(f.tmp.path() / "full");
  std::ofstream(f.tmp.path() / "full" / "file") << "x";
  CHECK(MustFail(f.backups.Create(f.tmp.path() / "full")).code == ErrorCode::kConflict);
  // An existing empty directory is fine.
  fs::create_directories(f.tmp.path() / "empty");
  (void)Must(f.backups.Create(f.tmp.path() / "empty"));
  CHECK(fs::exists(f.tmp.path() / "empty" / "backup.json"));
}

TEST_CASE("RestoreBackup: into a new directory, then refused over it without force, then forced") {
  BackupFixture f;
  auto kept = f.NewThread("kept");
  auto org = f.admin.org_id();
  (void)Must(f.backups.Create(f.tmp.path() / "b"));
  f.NewThread("after the backup");

  auto target = f.tmp.path() / "restored";
  auto r = Must(RestoreBackup(f.tmp.path() / "b", target, false));
  CHECK(r.change_log_head >= r.manifest.change_log_head);
  {
    auto restored = Must(storage::Store::Open(target / "db", Options()));
    CHECK(Must(restored->GetThread(org, kept)).title == "kept");
    CHECK(Must(restored->ListThreads(org, {}, std::nullopt, 100)).items.size() == 1);
  }

  fs::create_directories(target / "index" / "1");
  std::ofstream(target / "admin-token") << "secret\n";
  CHECK(MustFail(RestoreBackup(f.tmp.path() / "b", target, false)).code == ErrorCode::kConflict);
  (void)Must(RestoreBackup(f.tmp.path() / "b", target, true));
  CHECK_FALSE(fs::exists(target / "index"));      // rebuilt on the next start
  CHECK(fs::exists(target / "admin-token"));       // never touched
  CHECK_FALSE(fs::exists(target / "db.restoring"));
  CHECK_FALSE(fs::exists(target / "db.replaced"));
}

TEST_CASE("RestoreBackup refuses a data directory a running store holds, and an unfinished backup") {
  BackupFixture f;
  (void)Must(f.backups.Create(f.tmp.path() / "b"));
  // f.store holds DATA/db's lock, as a running server would.
  CHECK(MustFail(RestoreBackup(f.tmp.path() / "b", f.data, true)).code == ErrorCode::kUnavailable);

  fs::remove(f.tmp.path() / "b" / "backup.json");
  CHECK(MustFail(RestoreBackup(f.tmp.path() / "b", f.tmp.path() / "new", false)).code == ErrorCode::kNotFound);
  CHECK_FALSE(fs::exists(f.tmp.path() / "new"));
}

TEST_CASE("ReadBackupManifest rejects an unknown storage format") {
  BackupFixture f;
  (void)Must(f.backups.Create(f.tmp.path() / "b"));
  std::ofstream(f.tmp.path() / "b" / "backup.json")
      << R"({"type":"streetwise-backup","version":1,"format_version":99,"created_at":"2026-01-01T00:00:00.000Z","change_log_head_seq":1})";
  CHECK(MustFail(ReadBackupManifest(f.tmp.path() / "b")).code == ErrorCode::kInvalidArgument);
}

TEST_SUITE_END();
}  // namespace
}  // namespace streetwise::service
