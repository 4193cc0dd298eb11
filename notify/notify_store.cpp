#include "notify/notify_store.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include "core/crypto.hpp"
#include "storage/keys.hpp"

namespace streetwise::notify {
namespace keys = storage::keys;

core::Result<NotificationSettings> LoadSettings(const storage::Store& store, const std::string& org_id,
                                                const std::string& user_id) {
  auto raw = store.GetRaw(keys::kCfInbox, SettingsKey(org_id, user_id));
  if (!raw) return raw.take_error();
  if (!*raw) return NotificationSettings{};
  return DecodeSettings(**raw);
}

std::string RecipientTimeZone(const storage::Store& store, const std::string& org_id, const std::string& user_id,
                              const NotificationSettings& settings) {
  if (settings.timezone && !settings.timezone->empty()) return *settings.timezone;
  auto raw = store.GetRaw(keys::kCfExpertise, keys::Join(org_id, user_id));
  if (raw && *raw) {
    boost::system::error_code ec;
    auto v = boost::json::parse(**raw, ec);
    if (!ec && v.is_object()) {
      if (auto* tz = v.as_object().if_contains("timezone"); tz && tz->is_string() && !tz->get_string().empty()) {
        return std::string(tz->get_string());
      }
    }
  }
  return "UTC";
}

core::Result<std::vector<Webhook>> ListWebhooks(const storage::Store& store, const std::string& org_id) {
  std::vector<Webhook> out;
  std::optional<core::Error> err;
  auto st = store.ScanRaw(keys::kCfWebhooks, keys::OrgPrefix(org_id), std::nullopt,
                          [&](std::string_view, std::string_view value) {
                            auto w = DecodeWebhook(value);
                            if (!w) {
                              err = w.take_error();
                              return false;
                            }
                            out.push_back(std::move(w).value());
                            return true;
                          });
  if (!st) return st.take_error();
  if (err) return *err;
  return out;
}

core::Result<std::string> LoadOrCreateAnswerLinkKey(storage::Store& store) {
  auto existing = store.GetMeta(keys::kMetaAnswerLinkSecret);
  if (!existing) return existing.take_error();
  if (*existing) {
    std::string key;
    if (!core::Base64UrlDecode(**existing, key) || key.size() < 32) {
      return core::Error::Internal("meta answer_link_secret is not a base64url key of 32 bytes");
    }
    return key;
  }
  std::string key = core::RandomBytes(32);
  storage::Mutation m;
  m.SetMeta(keys::kMetaAnswerLinkSecret, core::Base64UrlEncode(key));
  auto committed = store.Commit(std::move(m));
  if (!committed) return committed.take_error();
  return key;
}

std::string NotificationIdFor(std::string_view event_key, std::string_view recipient, core::TimePoint event_time) {
  std::string digest = core::Sha256Hex(fmt::format("{}|{}", event_key, recipient));
  return fmt::format("n{:012x}{}", static_cast<std::uint64_t>(core::ToUnixMillis(event_time)) & 0xFFFFFFFFFFFFull,
                     digest.substr(0, 16));
}

}  // namespace streetwise::notify
