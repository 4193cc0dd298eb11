// Helpers shared by unit tests: a fresh temporary directory, an injectable clock and Result
// unwrapping that fails the current test with the error's detail and cause.
#pragma once

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include "core/clock.hpp"
#include "core/error.hpp"

namespace streetwise::testing {

// A fresh directory under the system temp dir (mkdtemp), removed with its contents on destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "streetwise-unit-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);  // best effort: a leftover temp dir must not fail a test
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A clock that only moves when told to. Thread-safe.
class FakeClock final : public core::Clock {
 public:
  explicit FakeClock(std::int64_t start_ms = 1'780'000'000'000) : ms_(start_ms) {}
  core::TimePoint Now() const override { return core::FromUnixMillis(ms_.load()); }
  void Advance(std::chrono::milliseconds d) { ms_ += d.count(); }

 private:
  std::atomic<std::int64_t> ms_;
};

// The value of `r`; fails (and ends) the current test case if `r` holds an error.
template <class T>
T Must(core::Result<T> r) {
  if (!r.ok()) FAIL("unexpected error: " << r.error().detail << " (cause: " << r.error().cause << ")");
  return std::move(r).value();
}

// The error of `r`; fails (and ends) the current test case if `r` holds a value.
template <class T>
core::Error MustFail(core::Result<T> r) {
  if (r.ok()) FAIL("expected an error, got a value");
  return r.take_error();
}

}  // namespace streetwise::testing
