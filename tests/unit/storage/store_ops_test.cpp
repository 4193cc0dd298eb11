// Store's operator-tool methods: Checkpoint, ScanOrgUsers, ScanOrgThreads, ListVotes.
#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/crypto.hpp"
#include "storage/store.hpp"
#include "unit/support/test_support.hpp"

namespace streetwise::storage {
namespace {
TEST_SUITE_BEGIN("storage");
using core::ErrorCode;
using testing::Must;
using testing::MustFail;

constexpr std::int64_t kT0 = 1'780'000'000'000;

StoreOptions Options(Durability d = Durability::kOs) {
  StoreOptions o;
  o.durability = d;
  o.block_cache_bytes = 8u << 20;
  return o;
}

core::User MakeUser(const std::string& org, std::int64_t ms, const std::string& name) {
  return core::User{core::NewId("u", core::FromUnixMillis(kT0 + ms)), org, name, std::nullopt, core::Role::kMember,
                    core::FromUnixMillis(kT0 + ms)};
}

core::Thread MakeThread(const std::string& org, std::int64_t ms) {
  core::Thread t;
  t.org_id = org;
  t.id = core::NewId("t", core::FromUnixMillis(kT0 + ms));
  t.title = "thread " + std::to_string(ms);
  t.author_id = "u1";
  t.created_at = t.updated_at = core::FromUnixMillis(kT0 + ms);
  return t;
}

core::Event Created(const core::Thread& t) {
  core::Event e;
  e.type = core::EventType::kThreadCreated;
  e.org_id = t.org_id;
  e.thread_id = t.id;
  e.at = t.created_at;
  return e;
}

void PutThreads(Store& store, const std::string& org, int n, std::int64_t first_ms = 0) {
  for (int i = 0; i < n; ++i) {
    auto t = MakeThread(org, first_ms + i);
    Mutation m;
    m.PutThread(t, nullptr);
    m.AddEvent(Created(t));
    (void)Must(store.Commit(std::move(m)));
  }
}

TEST_CASE("Checkpoint: the copy opens on its own and holds every commit made before the call") {
  testing::TempDir dir;
  auto store = Must(Store::Open(dir.path() / "db", Options()));  // kOs: the WAL may be unsynced
  PutThreads(*store, "o1", 50);
  auto head = store->VisibleHead();
  auto info = Must(store->Checkpoint(dir.path() / "copy"));
  CHECK(info.change_log_head == head);
  PutThreads(*store, "o1", 5, 1000);  // after the checkpoint: not in the copy

  auto copy = Must(Store::Open(dir.path() / "copy", Options()));
  CHECK(copy->VisibleHead() == head);
  int n = 0;
  (void)Must(copy->ScanOrgThreads("o1", [&](const core::Thread&) { return ++n, true; }));
  CHECK(n == 50);
  CHECK(Must(copy->ReadChangeLog(0, 1000)).size() == 50);
  // The original keeps working and is independent of the copy.
  PutThreads(*copy, "o1", 1, 2000);
  CHECK(store->VisibleHead() == head + 5);
}

TEST_CASE("Checkpoint: refuses an existing directory and a relative path") {
  testing::TempDir dir;
  auto store = Must(Store::Open(dir.path() / "db", Options()));
  PutThreads(*store, "o1", 1);
  std::filesystem::create_directories(dir.path() / "taken");
  CHECK(MustFail(store->Checkpoint(dir.path() / "taken")).code == ErrorCode::kConflict);
  CHECK(MustFail(store->Checkpoint("relative/copy")).code == ErrorCode::kInvalidArgument);
  CHECK_FALSE(std::filesystem::exists("relative"));
}

TEST_CASE("Checkpoint: runs while other threads commit") {
  testing::TempDir dir;
  auto store = Must(Store::Open(dir.path() / "db", Options()));
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) PutThreads(*store, "o1", 1, i);
  });
  while (store->VisibleHead() < 20) std::this_thread::yield();
  auto info = Must(store->Checkpoint(dir.path() / "copy"));
  stop = true;
  writer.join();
  auto copy = Must(Store::Open(dir.path() / "copy", Options()));
  CHECK(copy->VisibleHead() >= info.change_log_head);
  CHECK(info.change_log_head >= 20);
}

TEST_CASE("ScanOrgUsers: one org's users in id order, nothing from an org whose id extends it") {
  testing::TempDir dir;
  auto store = Must(Store::Open(dir.path() / "db", Options()));
  Mutation m;
  m.PutUser(MakeUser("o1", 3, "carol"));
  m.PutUser(MakeUser("o1", 1, "alice"));
  m.PutUser(MakeUser("o1", 2, "bob"));
  m.PutUser(MakeUser("o10", 0, "other tenant"));  // "o10/..." sorts right after "o1/..."
  m.PutUser(MakeUser("o", 0, "prefix tenant"));
  (void)Must(store->Commit(std::move(m)));

  std::vector<std::string> names;
  (void)Must(store->ScanOrgUsers("o1", [&](const core::User& u) {
    CHECK(u.org_id == "o1");
    names.push_back(u.name);
    return true;
  }));
  CHECK(names == std::vector<std::string>{"alice", "bob", "carol"});

  names.clear();
  (void)Must(store->ScanOrgUsers("o1", [&](const core::User& u) {
    names.push_back(u.name);
    return false;  // stop after the first
  }));
  CHECK(names.size() == 1);

  int n = 0;
  (void)Must(store->ScanOrgUsers("nobody", [&](const core::User&) { return ++n, true; }));
  CHECK(n == 0);
}

TEST_CASE("ScanOrgThreads: oldest first, tenant-restricted, with answers inside") {
  testing::TempDir dir;
  auto store = Must(Store::Open(dir.path() / "db", Options()));
  PutThreads(*store, "o2", 3, 100);
  PutThreads(*store, "o1", 1, 50);
  auto t = MakeThread("o1", 10);  // older than the thread above, committed later
  t.answers.push_back(core::Answer{"a1", t.id, "answer", "<p>answer</p>\n", "u2", t.created_at, 3});
  Mutation m;
  m.PutThread(t, nullptr);
  (void)Must(store->Commit(std::move(m)));

  std::vector<core::Thread> seen;
  (void)Must(store->ScanOrgThreads("o1", [&](const core::Thread& x) {
    seen.push_back(x);
    return true;
  }));
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].id == t.id);
  CHECK(seen[0].answers.size() == 1);
  CHECK(seen[0].answers[0].score == 3);
  CHECK(seen[1].title == "thread 50");
  for (const auto& x : seen) CHECK(x.org_id == "o1");
}

TEST_CASE("ListVotes: the votes on one answer by user id; withdrawn votes are gone") {
  testing::TempDir dir;
  auto store = Must(Store::Open(dir.path() / "db", Options()));
  Mutation m;
  m.PutVote("o1", "a1", "u3", -1);
  m.PutVote("o1", "a1", "u1", 1);
  m.PutVote("o1", "a1", "u2", 1);
  m.PutVote("o1", "a10", "u1", 1);  // another answer whose id extends "a1"
  m.PutVote("o2", "a1", "u9", 1);   // same answer id in another org
  (void)Must(store->Commit(std::move(m)));
  Mutation withdraw;
  withdraw.PutVote("o1", "a1", "u2", 0);
  (void)Must(store->Commit(std::move(withdraw)));

  auto votes = Must(store->ListVotes("o1", "a1"));
  REQUIRE(votes.size() == 2);
  CHECK(votes[0].user_id == "u1");
  CHECK(votes[0].value == 1);
  CHECK(votes[1].user_id == "u3");
  CHECK(votes[1].value == -1);
  CHECK(Must(store->ListVotes("o1", "missing")).empty());
}

TEST_SUITE_END();
}  // namespace
}  // namespace streetwise::storage
