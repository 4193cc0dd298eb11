// ReadCache: LRU eviction by charge, the epoch rule that keeps stale reads out, invalidation.
#include "core/read_cache.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <string>

using streetwise::core::ReadCache;

namespace {

std::shared_ptr<const std::string> Val(std::string s) { return std::make_shared<const std::string>(std::move(s)); }

// Inserts under the current epoch (no concurrent writer).
void Put(ReadCache<std::string>& c, const std::string& key, std::string value, std::size_t charge = 1) {
  c.Insert(key, Val(std::move(value)), c.Epoch(key), charge);
}

}  // namespace

TEST_SUITE("core") {
  TEST_CASE("read cache: least recently used entries go first, one at a time") {
    ReadCache<std::string> c(3, 1);
    Put(c, "a", "A");
    Put(c, "b", "B");
    Put(c, "c", "C");
    REQUIRE(c.Find("a"));  // a is now the most recently used: b is the oldest
    Put(c, "d", "D");
    CHECK(c.Size() == 3);
    CHECK(c.Find("b") == nullptr);
    CHECK(*c.Find("a") == "A");
    CHECK(*c.Find("c") == "C");
    CHECK(*c.Find("d") == "D");
  }

  TEST_CASE("read cache: the capacity bounds the total charge; an oversized value is not cached") {
    ReadCache<std::string> c(100, 1);
    Put(c, "a", "A", 40);
    Put(c, "b", "B", 40);
    CHECK(c.TotalCharge() == 80);
    Put(c, "c", "C", 40);  // 120 > 100: a (least recently used) goes
    CHECK(c.TotalCharge() == 80);
    CHECK(c.Find("a") == nullptr);
    Put(c, "huge", "H", 101);
    CHECK(c.Find("huge") == nullptr);
    CHECK(c.Size() == 2);
    Put(c, "b", "B2", 10);  // replacing an entry re-charges it
    CHECK(c.TotalCharge() == 50);
    CHECK(*c.Find("b") == "B2");
  }

  TEST_CASE("read cache: a read that overlapped an invalidation is not cached") {
    ReadCache<std::string> c(10, 1);
    Put(c, "k", "old");
    auto epoch = c.Epoch("k");  // a reader misses and starts reading the store ...
    c.Invalidate("k");          // ... a writer commits and invalidates ...
    c.Insert("k", Val("maybe stale"), epoch);  // ... the reader's value may predate the commit
    CHECK(c.Find("k") == nullptr);
    Put(c, "k", "new");  // a read that started after the invalidation is cached
    CHECK(*c.Find("k") == "new");
  }

  TEST_CASE("read cache: Invalidate and Clear drop entries; holders keep their values") {
    ReadCache<std::string> c(10);
    Put(c, "x", "X");
    Put(c, "y", "Y");
    auto held = c.Find("x");
    c.Invalidate("x");
    CHECK(c.Find("x") == nullptr);
    CHECK(*held == "X");
    auto epoch = c.Epoch("y");
    c.Clear();
    CHECK(c.Find("y") == nullptr);
    CHECK(c.Size() == 0);
    CHECK(c.TotalCharge() == 0);
    c.Insert("y", Val("Y"), epoch);  // read before the Clear: dropped
    CHECK(c.Find("y") == nullptr);
  }

  TEST_CASE("read cache: many keys over many shards stay within the capacity") {
    ReadCache<std::string> c(1000, 16);
    for (int i = 0; i < 10000; ++i) Put(c, "key" + std::to_string(i), "v");
    CHECK(c.TotalCharge() <= 1000);
    CHECK(c.Size() > 500);  // every shard is filled close to its share
    CHECK(*c.Find("key9999") == "v");
  }
}
