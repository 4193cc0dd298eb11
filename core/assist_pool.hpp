// Threads that help a caller run the parts of one job in parallel (e.g. one search over two halves
// of the index, docs/search.md "Parallel matching").
//
// The caller hands over parts 1..n-1, runs part 0 itself, then claims back and runs every
// handed-over part no helper has started yet, and finally waits for the parts helpers are running.
// With more parts than threads, whoever is free takes the next part. A job therefore never waits for a busy pool: under load the caller simply does all
// the work itself, as it would without helpers, and the pool cannot deadlock.
//
// Thread-safety: Run may be called from any number of threads at once.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace streetwise::core {

class AssistPool {
 public:
  // `helpers` threads (0: every part runs on the caller).
  explicit AssistPool(std::size_t helpers);
  ~AssistPool();  // joins the helpers; no Run may be in progress
  AssistPool(const AssistPool&) = delete;
  AssistPool& operator=(const AssistPool&) = delete;

  // Runs every part and returns when all have finished. A part's exception is rethrown here (the
  // first one, after every part has finished). part(i, on_helper) gets its index and whether a
  // helper thread (not the caller) runs it.
  void Run(std::size_t parts, const std::function<void(std::size_t index, bool on_helper)>& part);

  std::size_t helpers() const { return threads_.size(); }

  // A claim on an idle helper for the length of a job. Splitting a job costs some extra work, so
  // callers split only when a helper will take a part: TryReserve succeeds while there are more idle
  // helpers than claims held, so concurrent jobs do not all split for one helper. Conservative: a
  // helper busy with a claimed job's part still counts against that claim until it is released,
  // so with several helpers a claim can be refused while one is free (never the other way round).
  // Release it (destroy or reset it) right after Run. Empty (false) when nothing can be claimed.
  class Reservation {
   public:
    Reservation() = default;
    Reservation(Reservation&& other) noexcept : pool_(std::exchange(other.pool_, nullptr)) {}
    Reservation& operator=(Reservation&& other) noexcept;
    Reservation(const Reservation&) = delete;
    Reservation& operator=(const Reservation&) = delete;
    ~Reservation();
    explicit operator bool() const { return pool_ != nullptr; }

   private:
    friend class AssistPool;
    explicit Reservation(AssistPool* pool) : pool_(pool) {}
    AssistPool* pool_ = nullptr;
  };
  Reservation TryReserve();

 private:
  struct Task;
  void HelperLoop();
  void Release();

  std::mutex mu_;
  std::condition_variable work_cv_;
  std::deque<std::shared_ptr<Task>> queue_;
  bool stopping_ = false;
  std::size_t idle_ = 0;      // helpers waiting in HelperLoop (guarded by mu_)
  std::size_t reserved_ = 0;  // reservations held (guarded by mu_)
  std::vector<std::thread> threads_;
};

}  // namespace streetwise::core
