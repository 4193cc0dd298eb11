// In-process wake-ups for live in-app streams (SSE): the dispatcher publishes "user U of org O has
// new inbox items" after committing them; subscribers (one per open stream) get a callback and
// then read the inbox from the store, so nothing is lost if a wake-up races with a read.
//
// Thread-safe. Callbacks run on the publishing thread while the hub's lock is held: they must be
// quick and must not call back into the hub (post to an executor or signal a channel).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace streetwise::notify {

class InboxHub {
 public:
  class Subscription {
   public:
    ~Subscription();
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;

   private:
    friend class InboxHub;
    Subscription(InboxHub& hub, std::string key, std::uint64_t id) : hub_(hub), key_(std::move(key)), id_(id) {}
    InboxHub& hub_;
    std::string key_;
    std::uint64_t id_;
  };

  // Registers `wake` until the returned subscription is destroyed. The hub must outlive it.
  std::unique_ptr<Subscription> Subscribe(const std::string& org_id, const std::string& user_id,
                                          std::function<void()> wake);
  void Publish(const std::string& org_id, const std::string& user_id);
  // Wakes every subscriber (shutdown: streams notice and end).
  void WakeAll();
  std::size_t Subscribers() const;

 private:
  mutable std::mutex mu_;
  std::uint64_t next_id_ = 1;
  std::multimap<std::string, std::pair<std::uint64_t, std::function<void()>>> subs_;
};

}  // namespace streetwise::notify
