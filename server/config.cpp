#include "server/config.hpp"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>

namespace streetwise::server {
using core::Error;
using core::ErrorCode;

namespace {

Error Bad(std::string msg) { return Error::Make(ErrorCode::kInvalidArgument, std::move(msg)); }

core::Status ParseSize(std::string_view key, std::string_view value, std::size_t& out, bool allow_zero = false) {
  std::size_t n = 0;
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc() || p != value.data() + value.size() || (n == 0 && !allow_zero)) {
    return Bad(fmt::format("{} must be a {} integer, got '{}'", key, allow_zero ? "non-negative" : "positive",
                           std::string(value)));
  }
  out = n;
  return core::OkStatus();
}

// Applies one key; `value` is the textual form (from TOML, env or a flag).
core::Status Apply(std::string_view key, std::string_view value, Config& c) {
  if (key == "data_dir") {
    c.data_dir = std::string(value);
  } else if (key == "listen") {
    return ParseListen(value, c);
  } else if (key == "durability") {
    return ParseDurability(value, c);
  } else if (key == "root_token") {
    c.root_token = std::string(value);
  } else if (key == "log_level") {
    static constexpr std::string_view kLevels[] = {"trace", "debug", "info", "warn", "error"};
    if (std::find(std::begin(kLevels), std::end(kLevels), value) == std::end(kLevels)) {
      return Bad(fmt::format("log_level must be trace, debug, info, warn or error, got '{}'", std::string(value)));
    }
    c.log_level = std::string(value);
  } else if (key == "io_threads") {
    return ParseSize(key, value, c.io_threads);
  } else if (key == "blocking_threads") {
    return ParseSize(key, value, c.blocking_threads);
  } else if (key == "search_threads") {
    std::size_t parts = 0;
    if (auto st = ParseSize(key, value, parts); !st) return st;
    if (parts > 64) return Bad(fmt::format("search_threads must be at most 64, got {}", parts));
    c.search_threads = parts;
  } else if (key == "thread_cache_bytes") {
    return ParseSize(key, value, c.thread_cache_bytes, true);
  } else if (key == "max_body_bytes") {
    return ParseSize(key, value, c.max_body_bytes);
  } else if (key == "max_header_bytes") {
    return ParseSize(key, value, c.max_header_bytes);
  } else if (key == "request_timeout_seconds") {
    return ParseSize(key, value, c.request_timeout_seconds);
  } else if (key == "idle_timeout_seconds") {
    return ParseSize(key, value, c.idle_timeout_seconds);
  } else if (key == "max_connections") {
    return ParseSize(key, value, c.max_connections);
  } else if (key == "shutdown_grace_seconds") {
    return ParseSize(key, value, c.shutdown_grace_seconds);
  } else if (key == "rate_limit_token_per_second") {
    return ParseSize(key, value, c.rate_limit_token_per_second, true);
  } else if (key == "rate_limit_token_burst") {
    return ParseSize(key, value, c.rate_limit_token_burst);
  } else if (key == "rate_limit_address_per_second") {
    return ParseSize(key, value, c.rate_limit_address_per_second, true);
  } else if (key == "rate_limit_address_burst") {
    return ParseSize(key, value, c.rate_limit_address_burst);
  } else if (key == "auth_failures_per_minute") {
    return ParseSize(key, value, c.auth_failures_per_minute, true);
  } else if (key == "smtp_url") {
    if (!value.empty() && !value.starts_with("smtp://") && !value.starts_with("smtps://")) {
      return Bad(fmt::format("smtp_url must start with smtp:// or smtps:// (or be empty), got '{}'", std::string(value)));
    }
    c.smtp_url = std::string(value);
  } else if (key == "smtp_from") {
    if (value.find('@') == std::string_view::npos || value.find_first_of("\r\n") != std::string_view::npos) {
      return Bad(fmt::format("smtp_from must be an e-mail address, got '{}'", std::string(value)));
    }
    c.smtp_from = std::string(value);
  } else if (key == "public_base_url") {
    if (!value.starts_with("http://") && !value.starts_with("https://")) {
      return Bad(fmt::format("public_base_url must start with http:// or https://, got '{}'", std::string(value)));
    }
    c.public_base_url = std::string(value);
    while (c.public_base_url.ends_with('/')) c.public_base_url.pop_back();
  } else if (key == "webhook_timeout_seconds") {
    return ParseSize(key, value, c.webhook_timeout_seconds);
  } else if (key == "webhook_allow_private") {
    if (value == "true" || value == "1") {
      c.webhook_allow_private = true;
    } else if (value == "false" || value == "0") {
      c.webhook_allow_private = false;
    } else {
      return Bad(fmt::format("webhook_allow_private must be true or false, got '{}'", std::string(value)));
    }
  } else if (key == "answer_link_ttl_hours") {
    return ParseSize(key, value, c.answer_link_ttl_hours, true);
  } else if (key == "dispatcher_threads") {
    return ParseSize(key, value, c.dispatcher_threads);
  } else if (key == "retry_base_ms") {
    return ParseSize(key, value, c.retry_base_ms);
  } else if (key == "retry_max_attempts") {
    return ParseSize(key, value, c.retry_max_attempts, true);
  } else if (key == "sse_heartbeat_seconds") {
    return ParseSize(key, value, c.sse_heartbeat_seconds);
  } else {
    return Bad(fmt::format("unknown configuration key '{}'", std::string(key)));
  }
  return core::OkStatus();
}

constexpr std::string_view kKeys[] = {"data_dir",         "listen",           "durability",
                                      "root_token",       "log_level",        "io_threads",
                                      "blocking_threads", "max_body_bytes",   "max_header_bytes",
                                      "request_timeout_seconds", "idle_timeout_seconds", "max_connections",
                                      "shutdown_grace_seconds", "rate_limit_token_per_second",
                                      "rate_limit_token_burst", "rate_limit_address_per_second",
                                      "rate_limit_address_burst", "auth_failures_per_minute",
                                      "smtp_url", "smtp_from", "public_base_url", "webhook_timeout_seconds",
                                      "webhook_allow_private", "answer_link_ttl_hours", "dispatcher_threads",
                                      "retry_base_ms", "retry_max_attempts", "sse_heartbeat_seconds",
                                      "thread_cache_bytes", "search_threads"};

}  // namespace

core::Status ParseListen(std::string_view value, Config& c) {
  auto colon = value.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Bad(fmt::format("listen must be HOST:PORT, got '{}'", std::string(value)));
  }
  unsigned port = 0;
  auto ps = value.substr(colon + 1);
  auto [p, ec] = std::from_chars(ps.data(), ps.data() + ps.size(), port);
  if (ec != std::errc() || p != ps.data() + ps.size() || port > 65535) {
    return Bad(fmt::format("listen port must be 0..65535, got '{}'", std::string(ps)));
  }
  c.listen_host = std::string(value.substr(0, colon));
  c.listen_port = static_cast<std::uint16_t>(port);
  return core::OkStatus();
}

core::Status ParseDurability(std::string_view value, Config& c) {
  if (value == "fsync") {
    c.durability = storage::Durability::kFsync;
  } else if (value == "os") {
    c.durability = storage::Durability::kOs;
  } else {
    return Bad(fmt::format("durability must be 'fsync' or 'os', got '{}'", std::string(value)));
  }
  return core::OkStatus();
}

core::Status LoadConfigFile(const std::filesystem::path& file, Config& config) {
  toml::table table;
  try {
    table = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    return Bad(fmt::format("{}:{}:{}: {}", file.string(), e.source().begin.line, e.source().begin.column,
                           std::string(e.description())));
  }
  for (const auto& [key, node] : table) {
    std::string text;
    if (auto s = node.value<std::string>(); s && node.is_string()) {
      text = *s;
    } else if (auto i = node.value<std::int64_t>(); i && node.is_integer()) {
      text = std::to_string(*i);
    } else if (auto b = node.value<bool>(); b && node.is_boolean()) {
      text = *b ? "true" : "false";
    } else {
      return Bad(fmt::format("{}: '{}' must be a string, an integer or a boolean", file.string(),
                             std::string(key.str())));
    }
    if (auto st = Apply(key.str(), text, config); !st) {
      return Bad(fmt::format("{}: {}", file.string(), st.error().detail));
    }
  }
  return core::OkStatus();
}

core::Status ApplyEnvironment(Config& config) {
  for (auto key : kKeys) {
    std::string name = "STREETWISE_";
    for (char ch : key) name.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
    if (const char* v = std::getenv(name.c_str())) {
      if (auto st = Apply(key, v, config); !st) return Bad(fmt::format("{}: {}", name, st.error().detail));
    }
  }
  return core::OkStatus();
}

}  // namespace streetwise::server
