// A small thread-safe read-through cache for hot point reads (threads by id, rendered thread bodies,
// callers by token): sharded, least-recently-used eviction, bounded by a total charge.
//
// Correctness rule: writers call Invalidate(key) AFTER committing. A reader that missed records the
// key's epoch (Epoch(key)) before reading the store and passes it to Insert, which drops the value if
// the key's shard saw an invalidation meanwhile: a value read before a commit can never be cached
// after that commit's invalidation.
//
// Eviction drops one least-recently-used entry at a time, and values leave the cache (and are
// destroyed, if the cache held the last reference) outside the shard's lock, so no reader ever waits
// behind a mass eviction. (The previous version cleared the whole map when full: on the GET path
// that held the lock for 20-50 ms once a second while 20,000 threads were freed, which was the
// benchmark's p99.)
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace streetwise::core {

template <class V>
class ReadCache {
 public:
  // `capacity` bounds the sum of the entries' charges (Insert's `charge`; with the default charge of
  // 1 it is an entry count). It is split evenly over `shards` shards (at least 1 each); an entry whose
  // charge exceeds a shard's share is not cached.
  explicit ReadCache(std::size_t capacity, std::size_t shards = 16)
      : shard_capacity_(std::max<std::size_t>(1, capacity / std::max<std::size_t>(1, shards))),
        shards_(std::max<std::size_t>(1, shards)) {}

  ReadCache(const ReadCache&) = delete;
  ReadCache& operator=(const ReadCache&) = delete;

  // The cached value (and marks it recently used), or nullptr.
  std::shared_ptr<const V> Find(std::string_view key) const {
    Shard& s = ShardFor(key);
    std::lock_guard lock(s.mu);
    auto it = s.index.find(key);
    if (it == s.index.end()) return nullptr;
    s.lru.splice(s.lru.begin(), s.lru, it->second);
    return it->second->value;
  }

  // Call before reading the store on a miss; pass the result to Insert with the same key.
  std::uint64_t Epoch(std::string_view key) const {
    Shard& s = ShardFor(key);
    std::lock_guard lock(s.mu);
    return s.epoch;
  }

  // Caches `value` under `key` unless `key`'s shard was invalidated since `epoch_before_read` (the
  // value may be stale then). Replaces an entry with the same key. Evicts least-recently-used
  // entries until the shard's charge fits again.
  void Insert(std::string key, std::shared_ptr<const V> value, std::uint64_t epoch_before_read,
              std::size_t charge = 1) {
    std::vector<std::shared_ptr<const V>> dropped;  // destroyed after the lock is released
    Shard& s = ShardFor(key);
    {
      std::lock_guard lock(s.mu);
      if (s.epoch != epoch_before_read || charge > shard_capacity_) return;
      if (auto it = s.index.find(key); it != s.index.end()) {
        s.charge -= it->second->charge;
        dropped.push_back(std::move(it->second->value));
        s.lru.erase(it->second);
        s.index.erase(it);
      }
      s.lru.push_front(Entry{std::move(key), std::move(value), charge});
      s.index.emplace(s.lru.front().key, s.lru.begin());
      s.charge += charge;
      while (s.charge > shard_capacity_) {
        Entry& victim = s.lru.back();
        s.charge -= victim.charge;
        dropped.push_back(std::move(victim.value));
        s.index.erase(victim.key);
        s.lru.pop_back();
      }
    }
  }

  // Drops `key` (if cached) and makes in-flight reads of its shard not cache what they read.
  void Invalidate(std::string_view key) {
    std::shared_ptr<const V> dropped;  // destroyed after the lock is released
    Shard& s = ShardFor(key);
    std::lock_guard lock(s.mu);
    ++s.epoch;
    if (auto it = s.index.find(key); it != s.index.end()) {
      s.charge -= it->second->charge;
      dropped = std::move(it->second->value);
      s.lru.erase(it->second);
      s.index.erase(it);
    }
  }

  // Drops everything (and, like Invalidate, every in-flight read's insert).
  void Clear() {
    for (Shard& s : shards_) {
      std::list<Entry> dropped;  // destroyed after the lock is released
      std::lock_guard lock(s.mu);
      ++s.epoch;
      s.index.clear();
      dropped.swap(s.lru);
      s.charge = 0;
    }
  }

  // The sum of the charges of the cached entries, and their number (for tests and metrics).
  std::size_t TotalCharge() const {
    std::size_t n = 0;
    for (Shard& s : shards_) {
      std::lock_guard lock(s.mu);
      n += s.charge;
    }
    return n;
  }
  std::size_t Size() const {
    std::size_t n = 0;
    for (Shard& s : shards_) {
      std::lock_guard lock(s.mu);
      n += s.index.size();
    }
    return n;
  }

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<const V> value;
    std::size_t charge;
  };
  struct Shard {
    std::mutex mu;
    std::uint64_t epoch = 0;
    std::size_t charge = 0;
    std::list<Entry> lru;  // most recently used first
    // Keys view the Entry's key: list nodes never move.
    std::unordered_map<std::string_view, typename std::list<Entry>::iterator> index;
  };

  Shard& ShardFor(std::string_view key) const {
    std::size_t h = std::hash<std::string_view>{}(key);
    return shards_[(h ^ (h >> 32)) % shards_.size()];
  }

  std::size_t shard_capacity_;
  mutable std::vector<Shard> shards_;
};

}  // namespace streetwise::core
