// AssistPool: every part runs exactly once, on the caller or a helper; errors reach the caller;
// concurrent callers never deadlock, even with more callers than helpers.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/assist_pool.hpp"

using streetwise::core::AssistPool;

TEST_CASE("AssistPool runs every part exactly once and part 0 on the caller") {
  for (std::size_t helpers : {0u, 1u, 3u}) {
    CAPTURE(helpers);
    AssistPool pool(helpers);
    CHECK(pool.helpers() == helpers);
    for (std::size_t parts : {1u, 2u, 5u}) {
      std::vector<std::atomic<int>> runs(parts);
      std::atomic<bool> zero_on_caller{false};
      auto caller = std::this_thread::get_id();
      pool.Run(parts, [&](std::size_t i, bool on_helper) {
        ++runs[i];
        CHECK(on_helper == (std::this_thread::get_id() != caller));
        if (i == 0) zero_on_caller = !on_helper;
      });
      for (auto& r : runs) CHECK(r.load() == 1);
      CHECK(zero_on_caller.load());
    }
  }
}

TEST_CASE("AssistPool: a helper runs a part while the caller runs part 0") {
  AssistPool pool(1);
  std::atomic<bool> part1_started{false};
  pool.Run(2, [&](std::size_t i, bool on_helper) {
    if (i == 1) {
      part1_started = true;
      CHECK(on_helper);
      return;
    }
    // Part 0 waits (bounded) for the helper to pick up part 1: it runs concurrently, not after.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!part1_started && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    CHECK(part1_started.load());
  });
}

TEST_CASE("AssistPool: a reservation claims an idle helper until it is released") {
  AssistPool none(0);
  CHECK_FALSE(none.TryReserve());
  AssistPool pool(1);
  // The helper thread counts as idle once it waits for work: poll for it, bounded.
  AssistPool::Reservation first;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!(first = pool.TryReserve()) && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  REQUIRE(first);
  CHECK_FALSE(pool.TryReserve());  // the only helper is claimed, although it is still idle
  // While the claimed job runs, its helper part makes the helper busy: still nothing to reserve.
  std::atomic<bool> checked{false};
  pool.Run(2, [&](std::size_t i, bool on_helper) {
    if (i == 1) {
      CHECK(on_helper);
      CHECK_FALSE(pool.TryReserve());
      checked = true;
      return;
    }
    // Part 0 waits (bounded) for the helper to run part 1, so that part 1 is not claimed back.
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!checked && std::chrono::steady_clock::now() < until) std::this_thread::yield();
  });
  CHECK(checked.load());
  first = AssistPool::Reservation();
  AssistPool::Reservation again;
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!(again = pool.TryReserve()) && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  CHECK(again);
}

TEST_CASE("AssistPool rethrows a part's exception after every part has finished") {
  AssistPool pool(1);
  std::atomic<int> finished{0};
  CHECK_THROWS_AS(pool.Run(3,
                           [&](std::size_t i, bool) {
                             if (i == 1) throw std::runtime_error("part 1 failed");
                             ++finished;
                           }),
                  std::runtime_error);
  CHECK(finished.load() == 2);
}

TEST_CASE("AssistPool: many concurrent callers share one helper without deadlock") {
  AssistPool pool(1);
  std::atomic<long> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 8; ++c) {
    callers.emplace_back([&] {
      for (int round = 0; round < 200; ++round) {
        pool.Run(3, [&](std::size_t i, bool) { total += static_cast<long>(i) + 1; });
      }
    });
  }
  for (auto& t : callers) t.join();
  CHECK(total.load() == 8L * 200 * (1 + 2 + 3));
}
