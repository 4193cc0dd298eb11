// Threads that help a caller run the parts of one job in parallel (e.g. one search over two halves
// of the index, docs/search.md "Parallel matching").
//
// The caller hands over parts 1..n-1, runs part 0 itself, then for each handed-over part either
// claims it back (no helper has started it yet: the caller runs it) or waits for the helper that is
// running it. A job therefore never waits for a busy pool: under load the caller simply does all
// the work itself, as it would without helpers, and the pool cannot deadlock.
//
// Thread-safety: Run may be called from any number of threads at once.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
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

 private:
  struct Task;
  void HelperLoop();

  std::mutex mu_;
  std::condition_variable work_cv_;
  std::deque<std::shared_ptr<Task>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace streetwise::core
