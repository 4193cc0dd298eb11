#include "core/assist_pool.hpp"

#include <atomic>
#include <exception>

namespace streetwise::core {

struct AssistPool::Task {
  enum State { kPending, kRunning, kDone };
  std::size_t index = 0;
  const std::function<void(std::size_t, bool)>* part = nullptr;  // the caller's, alive until kDone
  std::atomic<int> state{kPending};
  std::exception_ptr error;
  std::mutex mu;  // guards the wait for kDone
  std::condition_variable done_cv;

  // Whoever moves the task from pending to running runs it; false if someone else already did.
  bool Claim() {
    int expected = kPending;
    return state.compare_exchange_strong(expected, kRunning);
  }
  void Execute(bool on_helper) {
    try {
      (*part)(index, on_helper);
    } catch (...) {
      error = std::current_exception();
    }
    {
      std::lock_guard lock(mu);
      state = kDone;
    }
    done_cv.notify_all();
  }
  void Wait() {
    std::unique_lock lock(mu);
    done_cv.wait(lock, [this] { return state.load() == kDone; });
  }
};

AssistPool::AssistPool(std::size_t helpers) {
  threads_.reserve(helpers);
  for (std::size_t i = 0; i < helpers; ++i) threads_.emplace_back([this] { HelperLoop(); });
}

AssistPool::~AssistPool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void AssistPool::HelperLoop() {
  for (;;) {
    std::shared_ptr<Task> task;
    {
      std::unique_lock lock(mu_);
      ++idle_;
      work_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      --idle_;
      if (queue_.empty()) return;  // stopping
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    if (task->Claim()) task->Execute(/*on_helper=*/true);
  }
}

AssistPool::Reservation& AssistPool::Reservation::operator=(Reservation&& other) noexcept {
  if (this != &other) {
    if (pool_ != nullptr) pool_->Release();
    pool_ = std::exchange(other.pool_, nullptr);
  }
  return *this;
}

AssistPool::Reservation::~Reservation() {
  if (pool_ != nullptr) pool_->Release();
}

AssistPool::Reservation AssistPool::TryReserve() {
  std::lock_guard lock(mu_);
  // A helper that has taken a reserved job's part is no longer idle, and the job keeps its claim
  // until it ends (the helper may take its next part): idle helpers beyond the claims are free.
  if (idle_ <= reserved_) return {};
  ++reserved_;
  return Reservation(this);
}

void AssistPool::Release() {
  std::lock_guard lock(mu_);
  --reserved_;
}

void AssistPool::Run(std::size_t parts, const std::function<void(std::size_t, bool)>& part) {
  if (parts == 0) return;
  std::vector<std::shared_ptr<Task>> offered;
  if (parts > 1 && !threads_.empty()) {
    offered.reserve(parts - 1);
    for (std::size_t i = 1; i < parts; ++i) {
      auto task = std::make_shared<Task>();
      task->index = i;
      task->part = &part;
      offered.push_back(std::move(task));
    }
    std::lock_guard lock(mu_);
    try {
      for (const auto& task : offered) queue_.push_back(task);
    } catch (...) {
      // Queued tasks point at `part`, which dies with this frame: make them unclaimable first.
      for (const auto& task : offered) task->Claim();
      throw;
    }
  }
  if (!offered.empty()) {
    if (offered.size() == 1) {
      work_cv_.notify_one();
    } else {
      work_cv_.notify_all();
    }
  }
  std::exception_ptr first;
  try {
    part(0, false);
  } catch (...) {
    first = std::current_exception();
  }
  if (offered.empty()) {
    for (std::size_t i = 1; i < parts; ++i) {
      try {
        part(i, false);
      } catch (...) {
        if (!first) first = std::current_exception();
      }
    }
  }
  // Run every part no helper has started yet, then wait for those the helpers are running: with more
  // parts than threads, whoever is free takes the next part, which evens out unequal parts.
  for (auto& task : offered) {
    if (task->Claim()) task->Execute(/*on_helper=*/false);
  }
  for (auto& task : offered) {
    task->Wait();
    if (task->error && !first) first = task->error;
  }
  if (first) std::rethrow_exception(first);
}

}  // namespace streetwise::core
