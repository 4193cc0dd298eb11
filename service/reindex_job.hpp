// Runs SearchIndex::Rebuild in the background while the server keeps serving, and reports
// progress. At most one rebuild runs at a time. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "core/error.hpp"
#include "indexer/search_index.hpp"

namespace streetwise::service {

struct ReindexStatus {
  std::string state = "idle";  // idle | running | done | failed
  std::uint64_t done = 0;
  std::uint64_t total = 0;
  double seconds = 0;          // elapsed (running) or total duration (done/failed)
  std::string error;           // set when failed
};

class ReindexJob {
 public:
  // `index` must outlive the job.
  explicit ReindexJob(indexer::SearchIndex& index) : index_(index) {}
  ~ReindexJob();

  // Starts a rebuild; kConflict if one is already running.
  core::Status Start();
  ReindexStatus Status() const;

 private:
  indexer::SearchIndex& index_;
  mutable std::mutex mu_;
  ReindexStatus status_;
  std::chrono::steady_clock::time_point started_;
  std::thread worker_;
};

}  // namespace streetwise::service
