// The system of record: a RocksDB database holding every entity and the change log.
//
// Store is the only component that includes <rocksdb/...> (in store.cpp). All methods are
// thread-safe. Reads are point lookups or bounded prefix scans. Writes go through Mutation: a
// collection of puts plus change-log events that Commit() applies as ONE atomic WriteBatch,
// assigning each event a global sequence number. With Durability::kFsync, Commit() returns only
// after the WAL is fsynced; concurrent Commit() calls share one fsync (RocksDB's group commit), so
// callers should commit from several threads (see net/blocking_pool.hpp). Commit blocks: never
// call it on an I/O thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/model.hpp"

namespace rocksdb {
class WriteBatch;
}

namespace streetwise::storage {

enum class Durability {
  kFsync,  // a committed write is in the WAL and fsynced: survives kill -9 and power loss
  kOs,     // a committed write is in the OS page cache: survives kill -9, not power loss
};

struct StoreOptions {
  Durability durability = Durability::kFsync;  // default: fsync every commit (group-committed)
  std::size_t block_cache_bytes = 256u << 20;  // default: 256 MiB shared block cache
};

struct ThreadFilter {
  std::optional<core::ThreadStatus> status;
  std::optional<core::ThreadKind> kind;
  std::optional<std::string> author_id;
  std::optional<std::string> tag;  // normalised
};

template <class T>
struct Page {
  std::vector<T> items;
  std::optional<std::string> next_key;  // resume after this key; empty when the listing is complete
};

struct TagCount {
  std::string tag;
  std::int64_t count = 0;
};

// What Store::Checkpoint captured.
struct CheckpointInfo {
  std::uint64_t change_log_head = 0;  // every change-log event with seq <= this is in the copy
};

// One user's vote on an answer (Store::ListVotes).
struct VoteEntry {
  std::string user_id;
  int value = 0;  // +1 or -1
};

// The stored outcome of a POST with an Idempotency-Key.
struct IdempotencyRecord {
  std::string fingerprint;  // sha256 of the request body
  int status = 0;
  std::string body;
  std::string location;
  core::TimePoint created_at;
};

class Store;

// A set of changes committed atomically by Store::Commit. Not thread-safe; build it on one thread.
class Mutation {
 public:
  void PutOrg(const core::Org& org);
  void PutUser(const core::User& user);
  // Stores the token, its hash lookup entry and the per-user listing entry.
  void PutToken(const core::Token& token);
  // Stores the thread aggregate and keeps the list index, tag index and tag counts in step with
  // `before` (nullptr for a new thread).
  void PutThread(const core::Thread& now, const core::Thread* before);
  // Removes the thread and everything derived from it (list/tag indexes, tag counts, revisions,
  // answer locators and votes).
  void DeleteThread(const core::Thread& before);
  void PutRevision(const std::string& org_id, const std::string& thread_id, const core::Revision& rev);
  void PutAnswerLocator(const std::string& org_id, const std::string& answer_id, const std::string& thread_id);
  // value 0 removes the vote.
  void PutVote(const std::string& org_id, const std::string& answer_id, const std::string& user_id, int value);
  void PutIdempotency(const std::string& org_id, const std::string& user_id, const std::string& key_hash,
                      const IdempotencyRecord& rec);
  void PutSuggestion(const core::Suggestion& s);
  // Adds `delta` to the org's counter `name` (e.g. "search_miss_term/pricing").
  void AddToCounter(const std::string& org_id, const std::string& name, std::int64_t delta);
  void SetMeta(std::string_view key, std::string value);
  // Raw access for components that own their value format (routing/, notify/). `cf` must be one
  // of the families in keys.hpp; keys follow the layouts documented there.
  void PutRaw(std::string_view cf, std::string key, std::string value);
  void DeleteRaw(std::string_view cf, std::string key);
  // Appends a change-log event; its seq is assigned by Commit.
  void AddEvent(core::Event event);

  bool empty() const { return ops_.empty() && events_.empty(); }

 private:
  friend class Store;
  enum class OpKind { kPut, kDelete, kMerge, kDeleteRange };  // kDeleteRange: [key, value)
  struct Op {
    std::string_view cf;
    OpKind kind;
    std::string key;
    std::string value;
  };
  void Put(std::string_view cf, std::string key, std::string value);
  std::vector<Op> ops_;
  std::vector<core::Event> events_;
};

// A consistent snapshot of every thread, read in contiguous ranges of positions (key order) from
// several threads at once: for rebuilding derived indexes in parallel while keeping the key order.
// Holds a RocksDB snapshot until destroyed; must not outlive its Store. Thread-safe.
class ThreadSnapshot {
 public:
  ~ThreadSnapshot();
  ThreadSnapshot(const ThreadSnapshot&) = delete;
  ThreadSnapshot& operator=(const ThreadSnapshot&) = delete;

  // The number of threads in the snapshot (counted when it was taken).
  std::uint64_t Count() const;
  // Visits the threads at positions [begin, end) in key order; `visit` returns false to stop.
  core::Status Scan(std::uint64_t begin, std::uint64_t end,
                    const std::function<bool(const core::Thread&)>& visit) const;

 private:
  friend class Store;
  struct Impl;
  explicit ThreadSnapshot(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class Store {
 public:
  // Opens (creating if needed) the database in `dir`. Errors: kUnavailable if the directory is
  // locked by another process, kInternal for anything else, with RocksDB's message as the cause.
  static core::Result<std::unique_ptr<Store>> Open(const std::filesystem::path& dir, const StoreOptions& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Applies `m` atomically; returns the seq of its last event (or the current head if it had none).
  core::Result<std::uint64_t> Commit(Mutation&& m);

  core::Result<std::optional<std::string>> GetMeta(std::string_view key) const;

  core::Result<core::Org> GetOrg(const std::string& org_id) const;
  core::Result<core::User> GetUser(const std::string& org_id, const std::string& user_id) const;
  // Users of an org ordered by id, optionally only one role.
  core::Result<Page<core::User>> ListUsers(const std::string& org_id, std::optional<core::Role> role,
                                           const std::optional<std::string>& after, std::size_t limit) const;

  core::Result<core::Token> GetToken(const std::string& token_id) const;
  // kNotFound if no token has this secret hash.
  core::Result<core::Token> FindTokenBySecretHash(const std::string& sha256_hex) const;
  core::Result<std::vector<core::Token>> ListTokens(const std::string& org_id, const std::string& user_id) const;

  core::Result<core::Thread> GetThread(const std::string& org_id, const std::string& thread_id) const;
  // Threads newest first. Filtering reads the compact index, so a page costs at most
  // `scan_budget` index entries; a page may hold fewer than `limit` items and still have next_key.
  core::Result<Page<core::Thread>> ListThreads(const std::string& org_id, const ThreadFilter& filter,
                                               const std::optional<std::string>& after, std::size_t limit,
                                               std::size_t scan_budget = 5000) const;
  core::Result<std::vector<core::Revision>> ListRevisions(const std::string& org_id,
                                                          const std::string& thread_id) const;
  core::Result<Page<TagCount>> ListTags(const std::string& org_id, const std::optional<std::string>& after,
                                        std::size_t limit) const;
  // kNotFound if the answer does not exist in this org.
  core::Result<std::string> FindAnswerThread(const std::string& org_id, const std::string& answer_id) const;
  core::Result<int> GetVote(const std::string& org_id, const std::string& answer_id,
                            const std::string& user_id) const;
  core::Result<std::optional<IdempotencyRecord>> GetIdempotency(const std::string& org_id, const std::string& user_id,
                                                                const std::string& key_hash) const;

  // Visits every thread of every organisation (for rebuilding derived indexes); `visit` returns
  // false to stop. Reads a consistent snapshot.
  core::Status ScanAllThreads(const std::function<bool(const core::Thread&)>& visit) const;
  // RocksDB's estimate of the number of threads (for progress reporting).
  std::uint64_t EstimateThreadCount() const;
  // Takes a snapshot of every thread and counts them (a pass over the keys, no decoding).
  core::Result<std::unique_ptr<ThreadSnapshot>> SnapshotThreads() const;

  core::Result<core::Suggestion> GetSuggestion(const std::string& org_id, const std::string& id) const;
  // Counters of one org whose names start with `prefix`, as (name suffix, value).
  core::Result<std::vector<std::pair<std::string, std::int64_t>>> ListCounters(const std::string& org_id,
                                                                             const std::string& prefix) const;
  // Commits without fsync: for statistics whose loss in a power cut is acceptable.
  core::Status CommitRelaxed(Mutation&& m);

  // Events of one org with seq > after, oldest first, never beyond VisibleHead().
  core::Result<std::vector<core::Event>> ListOrgEvents(const std::string& org_id, std::uint64_t after,
                                                       std::size_t limit) const;
  // Events of all orgs with seq > after, oldest first, never beyond VisibleHead() (for tailers).
  core::Result<std::vector<core::Event>> ReadChangeLog(std::uint64_t after, std::size_t limit) const;

  // The highest seq below which every event is committed: tailers never read past it, so an event
  // committed out of order (seq 8 before seq 7) is never skipped.
  std::uint64_t VisibleHead() const;

  // Raw reads matching Mutation::PutRaw. ScanRaw visits keys under `prefix` in order, strictly
  // after prefix+after when given; `visit(key_suffix, value)` returns false to stop. With
  // `reverse`, keys are visited in descending order, strictly before prefix+after when given.
  core::Result<std::optional<std::string>> GetRaw(std::string_view cf, const std::string& key) const;
  core::Status ScanRaw(std::string_view cf, const std::string& prefix, const std::optional<std::string>& after,
                       const std::function<bool(std::string_view, std::string_view)>& visit,
                       bool reverse = false) const;

  // A RocksDB integer property summed over all column families (e.g. "rocksdb.total-sst-files-size",
  // "rocksdb.cur-size-all-mem-tables", "rocksdb.actual-delayed-write-rate"); 0 if unknown.
  std::uint64_t IntProperty(const std::string& name) const;

  // Flushes memtables and syncs the WAL; called on graceful shutdown.
  core::Status Flush();

  // ---- Operator tools (backup, export) ----

  // Creates an openable copy of the whole database in `dir` with RocksDB's Checkpoint: SST files
  // are hard-linked when `dir` is on the same file system as the database and copied otherwise;
  // the MANIFEST and the other small files are always copied. Every commit that returned before
  // this call is in the copy: the WAL is synced and the memtables are flushed first.
  // Preconditions: `dir` is absolute, does not exist, and its parent directory exists (RocksDB
  // writes `dir`.tmp and renames it, so a crash never leaves a half-written `dir`).
  // Thread-safe and runs concurrently with commits; blocking (flush, file copies): never call it on
  // an I/O thread. Errors: kInvalidArgument for a relative `dir`, kConflict if `dir` exists,
  // kInternal (RocksDB's message as the cause) for anything else.
  core::Result<CheckpointInfo> Checkpoint(const std::filesystem::path& dir);

  // Visits the users of one organisation in id order (= creation order), reading one consistent
  // snapshot; `visit` returns false to stop early. Only this org's keys are read (prefix scan).
  // Errors: kInternal for a read failure or an undecodable value.
  core::Status ScanOrgUsers(const std::string& org_id, const std::function<bool(const core::User&)>& visit) const;
  // Visits the thread aggregates (with answers and comments) of one organisation in id order
  // (= creation order, oldest first), reading one consistent snapshot; `visit` returns false to
  // stop early. Errors as ScanOrgUsers.
  core::Status ScanOrgThreads(const std::string& org_id,
                              const std::function<bool(const core::Thread&)>& visit) const;
  // The votes (+1/-1) cast on one answer, ordered by user id; empty if there are none or the
  // answer does not exist. Errors: kInternal for a read failure.
  core::Result<std::vector<VoteEntry>> ListVotes(const std::string& org_id, const std::string& answer_id) const;

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  core::Status AddOps(const Mutation& m, rocksdb::WriteBatch& batch) const;
  std::unique_ptr<Impl> impl_;
};

}  // namespace streetwise::storage
