// Threads, answers, comments, votes, tags and the org's event feed.
//
// Blocking (RocksDB reads and fsynced commits): call from the blocking pool, never an I/O thread.
// Thread-safe: read-modify-write of one thread is serialised by a striped lock, so concurrent
// edits, answers and votes on the same thread never lose an update.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/read_cache.hpp"
#include "core/model.hpp"
#include "service/account_service.hpp"
#include "storage/store.hpp"

namespace streetwise::service {

struct NewThreadInput {
  std::string title;
  std::string body;
  std::vector<std::string> tags;  // raw; normalised by the service
  core::ThreadKind kind = core::ThreadKind::kQuestion;
  core::DealContext deal;
};

struct ThreadPatchInput {
  std::optional<std::string> title;
  std::optional<std::string> body;
  std::optional<std::vector<std::string>> tags;
  std::optional<core::ThreadStatus> status;  // admins: kClosed or kOpen (reopen)
};

// How to record a POST's outcome under an Idempotency-Key in the same WriteBatch as the thread.
struct IdempotencyIntent {
  std::string key_hash;
  std::string fingerprint;
  // Renders the response body for the created thread (so a replay returns identical bytes).
  std::function<std::string(const core::Thread&)> render_body;
};

// A thread as a caller renders it (the API: its JSON body), with the version it was rendered from.
struct RenderedThread {
  std::int64_t version = 0;  // the thread's version (its ETag)
  std::string body;
};
// Renders a thread; must be a pure function of the thread (see GetRendered).
using ThreadRenderer = std::string (*)(const core::Thread&);

struct ThreadServiceOptions {
  // Memory for GetRendered's memo of rendered threads, in bytes (bodies plus ~200 bytes of
  // bookkeeping per thread). Default 256 MiB: ~125k threads of the benchmark corpus (1.9 KB each).
  // 0 turns the memo off.
  std::size_t rendered_cache_bytes = 256u << 20;
  // Decoded threads kept for Get (edits and votes read through it): an entry count.
  std::size_t thread_cache_entries = 20000;
};

// Every write to a thread goes through this service: its caches are invalidated by its own
// mutations only (after each commit, whether or not the commit succeeded).
class ThreadService {
 public:
  // `store` and `clock` must outlive the service.
  ThreadService(storage::Store& store, const core::Clock& clock, const ThreadServiceOptions& options = {})
      : store_(store),
        clock_(clock),
        threads_(options.thread_cache_entries),
        rendered_(options.rendered_cache_bytes) {}

  core::Result<Written<core::Thread>> Create(const Caller& caller, const NewThreadInput& input,
                                             const std::optional<IdempotencyIntent>& idempotency);
  // Creates a thread together with its answers in one mutation (bulk import and benchmarks).
  // `accepted` indexes into `answers`. Same validation as Create/AddAnswer.
  core::Result<Written<core::Thread>> Import(const Caller& caller, const NewThreadInput& input,
                                             const std::vector<std::string>& answers,
                                             std::optional<std::size_t> accepted);

  core::Result<std::optional<storage::IdempotencyRecord>> FindIdempotent(const Caller& caller,
                                                                        const std::string& key_hash) const;

  core::Result<core::Thread> Get(const Caller& caller, const std::string& thread_id) const;
  // The thread as `render` renders it, memoised per (org, thread id) until the thread's next
  // change: a repeated read of an unchanged thread costs a lookup, without the store read, the
  // decode or the rendering. Every mutation of this service drops the memo after committing (the
  // ReadCache epoch rule), a delete included, so a stale rendering is never returned; the key
  // includes the caller's org, so one org never sees another's. `render` must be a pure function of
  // the thread and the same function on every call (the memo does not know which function made a
  // body): calls with another function than the first are rendered afresh and not memoised.
  // Same errors as Get. Thread-safe; runs inline (a point read, no commit).
  core::Result<std::shared_ptr<const RenderedThread>> GetRendered(const Caller& caller, const std::string& thread_id,
                                                                  ThreadRenderer render) const;
  core::Result<storage::Page<core::Thread>> List(const Caller& caller, const storage::ThreadFilter& filter,
                                                 const std::optional<std::string>& after, std::size_t limit) const;
  // kPreconditionFailed if the thread's version is not `expected_version`.
  core::Result<Written<core::Thread>> Patch(const Caller& caller, const std::string& thread_id,
                                            const ThreadPatchInput& patch, std::int64_t expected_version);
  // Deletes the thread with its answers and comments (author or admin).
  core::Result<Written<core::Thread>> Delete(const Caller& caller, const std::string& thread_id);
  core::Result<std::vector<core::Revision>> Revisions(const Caller& caller, const std::string& thread_id) const;

  core::Result<Written<core::Answer>> AddAnswer(const Caller& caller, const std::string& thread_id,
                                                const std::string& body);
  core::Result<Written<core::Comment>> AddComment(const Caller& caller, const std::string& thread_id,
                                                  const std::string& body,
                                                  const std::optional<std::string>& answer_id);
  // answer_id nullopt withdraws the acceptance.
  core::Result<Written<core::Thread>> Accept(const Caller& caller, const std::string& thread_id,
                                             const std::optional<std::string>& answer_id);
  // value in {-1, 0, 1}; one vote per user and answer, 0 withdraws it.
  core::Result<Written<core::Answer>> Vote(const Caller& caller, const std::string& answer_id, int value);

  core::Result<storage::Page<storage::TagCount>> Tags(const Caller& caller, const std::optional<std::string>& after,
                                                      std::size_t limit) const;
  // The change-log position every committed write is at or below.
  std::uint64_t HeadSeq() const { return store_.VisibleHead(); }

  core::Result<std::vector<core::Event>> Events(const Caller& caller, std::uint64_t after, std::size_t limit) const;

 private:
  std::mutex& LockFor(const std::string& thread_id);
  // Drops the cached copy; called after every commit that changes a thread (even a failed one).
  void InvalidateCached(const Caller& caller, const std::string& thread_id) const;
  // Validates input and builds a new (unsaved) thread.
  core::Result<core::Thread> NewThread(const Caller& caller, const NewThreadInput& input, core::TimePoint now) const;
  core::Event MakeEvent(core::EventType type, const Caller& caller, const core::Thread& t) const;

  storage::Store& store_;
  const core::Clock& clock_;
  std::array<std::mutex, 64> stripes_;
  // Threads by org/id for Get, and their renderings for GetRendered; every mutation invalidates
  // its thread in both after committing.
  mutable core::ReadCache<core::Thread> threads_;
  mutable core::ReadCache<RenderedThread> rendered_;
  mutable std::atomic<ThreadRenderer> renderer_{nullptr};  // the function rendered_ holds bodies of
};

}  // namespace streetwise::service
