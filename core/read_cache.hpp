// A small thread-safe read-through cache for hot point reads (threads by id, callers by token).
//
// Correctness rule: writers call Invalidate(key) AFTER committing. A reader that missed records the
// cache epoch before reading the store and inserts only if no invalidation happened meanwhile, so
// a value read before a commit can never be cached after that commit's invalidation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace streetwise::core {

template <class V>
class ReadCache {
 public:
  explicit ReadCache(std::size_t capacity) : capacity_(capacity) {}

  // The cached value, or nullptr.
  std::shared_ptr<const V> Find(const std::string& key) const {
    std::lock_guard lock(mu_);
    auto it = map_.find(key);
    return it == map_.end() ? nullptr : it->second;
  }

  // Call before reading the store on a miss; pass the result to Insert.
  std::uint64_t Epoch() const {
    std::lock_guard lock(mu_);
    return epoch_;
  }

  void Insert(const std::string& key, std::shared_ptr<const V> value, std::uint64_t epoch_before_read) {
    std::lock_guard lock(mu_);
    if (epoch_ != epoch_before_read) return;  // something was invalidated meanwhile: may be stale
    if (map_.size() >= capacity_) map_.clear();  // crude but bounded; hot entries come back at once
    map_[key] = std::move(value);
  }

  void Invalidate(const std::string& key) {
    std::lock_guard lock(mu_);
    ++epoch_;
    map_.erase(key);
  }

  void Clear() {
    std::lock_guard lock(mu_);
    ++epoch_;
    map_.clear();
  }

 private:
  std::size_t capacity_;
  mutable std::mutex mu_;
  std::uint64_t epoch_ = 0;
  std::unordered_map<std::string, std::shared_ptr<const V>> map_;
};

}  // namespace streetwise::core
