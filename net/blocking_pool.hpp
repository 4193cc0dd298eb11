// A pool for blocking work (RocksDB commits with fsync, later Xapian and network sends), awaited
// from I/O coroutines so an I/O thread never waits on a disk.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstddef>
#include <optional>
#include <type_traits>
#include <utility>

namespace streetwise::net {

class BlockingPool {
 public:
  // `threads` bounds how many blocking calls run at once; for fsynced commits it is also the
  // largest group RocksDB can fold into one fsync.
  explicit BlockingPool(std::size_t threads) : pool_(threads) {}
  ~BlockingPool() { Stop(); }

  // Runs `f` on the pool and resumes the awaiting coroutine on its own executor with the result.
  // Exceptions thrown by `f` propagate to the awaiter.
  template <class F>
  boost::asio::awaitable<std::invoke_result_t<F>> Run(F f) {
    using R = std::invoke_result_t<F>;
    std::optional<R> result;
    co_await boost::asio::co_spawn(
        pool_.get_executor(),
        [&result, &f]() -> boost::asio::awaitable<void> {
          result.emplace(f());
          co_return;
        },
        boost::asio::use_awaitable);
    co_return std::move(*result);
  }

  // Waits for queued work to finish and joins the threads. Idempotent.
  void Stop() {
    pool_.wait();
  }

 private:
  boost::asio::thread_pool pool_;
};

}  // namespace streetwise::net
