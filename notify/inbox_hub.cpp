#include "notify/inbox_hub.hpp"

namespace streetwise::notify {

InboxHub::Subscription::~Subscription() {
  std::lock_guard lock(hub_.mu_);
  auto [b, e] = hub_.subs_.equal_range(key_);
  for (auto it = b; it != e; ++it) {
    if (it->second.first == id_) {
      hub_.subs_.erase(it);
      break;
    }
  }
}

std::unique_ptr<InboxHub::Subscription> InboxHub::Subscribe(const std::string& org_id, const std::string& user_id,
                                                            std::function<void()> wake) {
  std::string key = org_id + "/" + user_id;
  std::lock_guard lock(mu_);
  std::uint64_t id = next_id_++;
  subs_.emplace(key, std::make_pair(id, std::move(wake)));
  return std::unique_ptr<Subscription>(new Subscription(*this, std::move(key), id));
}

void InboxHub::Publish(const std::string& org_id, const std::string& user_id) {
  std::string key = org_id + "/" + user_id;
  std::lock_guard lock(mu_);
  auto [b, e] = subs_.equal_range(key);
  for (auto it = b; it != e; ++it) it->second.second();
}

void InboxHub::WakeAll() {
  std::lock_guard lock(mu_);
  for (auto& [k, v] : subs_) v.second();
}

std::size_t InboxHub::Subscribers() const {
  std::lock_guard lock(mu_);
  return subs_.size();
}

}  // namespace streetwise::notify
