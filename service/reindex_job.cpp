#include "service/reindex_job.hpp"

#include <spdlog/spdlog.h>

namespace streetwise::service {

ReindexJob::~ReindexJob() {
  if (worker_.joinable()) worker_.join();
}

core::Status ReindexJob::Start() {
  std::lock_guard lock(mu_);
  if (status_.state == "running") {
    return core::Error::Make(core::ErrorCode::kConflict, "a reindex is already running");
  }
  if (worker_.joinable()) worker_.join();
  status_ = ReindexStatus{"running", 0, 0, 0, ""};
  started_ = std::chrono::steady_clock::now();
  worker_ = std::thread([this] {
    auto result = index_.Rebuild([this](std::uint64_t done, std::uint64_t total) {
      std::lock_guard l(mu_);
      status_.done = done;
      status_.total = total;
    });
    std::lock_guard l(mu_);
    status_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    if (result) {
      status_.state = "done";
      status_.done = status_.total = *result;
      spdlog::info("reindex: {} threads in {:.1f} s", *result, status_.seconds);
    } else {
      status_.state = "failed";
      status_.error = result.error().cause.empty() ? result.error().detail : result.error().cause;
      spdlog::error("reindex failed: {}", status_.error);
    }
  });
  return core::OkStatus();
}

ReindexStatus ReindexJob::Status() const {
  std::lock_guard lock(mu_);
  ReindexStatus s = status_;
  if (s.state == "running") {
    s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  }
  return s;
}

}  // namespace streetwise::service
