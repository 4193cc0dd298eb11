#include "notify/outbox.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include "storage/keys.hpp"

namespace streetwise::notify {
namespace json = boost::json;

std::string EncodeNotification(const core::Notification& n) {
  json::object o{{"fv", 1},
                 {"id", n.id},
                 {"org_id", n.org_id},
                 {"type", n.type},
                 {"thread_id", n.thread_id},
                 {"urgent", n.urgent},
                 {"created_at", core::ToUnixMillis(n.created_at)},
                 {"data", json::parse(n.data_json.empty() ? "{}" : n.data_json)}};
  if (n.recipient_user_id) o["recipient_user_id"] = *n.recipient_user_id;
  if (n.assignment_id) o["assignment_id"] = *n.assignment_id;
  return json::serialize(o);
}

core::Result<core::Notification> DecodeNotification(std::string_view s) {
  try {
    auto v = json::parse(s);
    const auto& o = v.as_object();
    core::Notification n;
    n.id = std::string(o.at("id").as_string());
    n.org_id = std::string(o.at("org_id").as_string());
    n.type = std::string(o.at("type").as_string());
    n.thread_id = std::string(o.at("thread_id").as_string());
    n.urgent = o.at("urgent").as_bool();
    n.created_at = core::FromUnixMillis(o.at("created_at").to_number<std::int64_t>());
    n.data_json = json::serialize(o.at("data"));
    if (auto* r = o.if_contains("recipient_user_id")) n.recipient_user_id = std::string(r->as_string());
    if (auto* a = o.if_contains("assignment_id")) n.assignment_id = std::string(a->as_string());
    return n;
  } catch (const std::exception& e) {
    return core::Error::Internal(fmt::format("cannot decode notification: {}", e.what()));
  }
}

void Enqueue(storage::Mutation& m, const core::Notification& n) {
  // Outbox keys sort by due time; a new notification is due at its creation time.
  m.PutRaw(storage::keys::kCfOutbox,
           storage::keys::BigEndian64(static_cast<std::uint64_t>(core::ToUnixMillis(n.created_at))) + "/" + n.id,
           EncodeNotification(n));
}

}  // namespace streetwise::notify
