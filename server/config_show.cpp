#include "server/config_show.hpp"

#include <fmt/format.h>

namespace streetwise::server {

namespace {

// A TOML basic string.
std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

}  // namespace

std::string FormatConfigToml(const Config& c) {
  std::string out =
      "# streetwise effective configuration: defaults < --config file < STREETWISE_* environment < flags.\n"
      "# Secrets are masked.\n";
  auto line = [&out](std::string_view key, const std::string& value, std::string_view comment) {
    out += fmt::format("{} = {}  # {}\n", key, value, comment);
  };
  auto num = [](std::size_t v) { return std::to_string(v); };
  line("data_dir", Quote(c.data_dir.string()), "db/ (RocksDB), index/, admin-token, listen-address");
  line("listen", Quote(fmt::format("{}:{}", c.listen_host, c.listen_port)), "HOST:PORT; port 0 = any free port");
  line("durability", Quote(c.durability == storage::Durability::kFsync ? "fsync" : "os"), "fsync | os");
  line("io_threads", num(c.io_threads), "threads running HTTP sessions");
  line("blocking_threads", num(c.blocking_threads), "pool for commits (group-commit width)");
  line("thread_cache_bytes", num(c.thread_cache_bytes), "rendered thread bodies for GET by id (0 = off)");
  line("search_threads", num(c.search_threads), "threads matching one search together (1 = off)");
  line("root_token", Quote(c.root_token.empty() ? "" : "********"),
       c.root_token.empty() ? "unset: POST /v1/orgs and /v1/admin/* are disabled" : "set (masked)");
  line("max_body_bytes", num(c.max_body_bytes), "larger request bodies get 413");
  line("max_header_bytes", num(c.max_header_bytes), "larger request headers get 431");
  line("request_timeout_seconds", num(c.request_timeout_seconds), "deadline to read a request / write a response");
  line("idle_timeout_seconds", num(c.idle_timeout_seconds), "keep-alive idle limit");
  line("max_connections", num(c.max_connections), "further connections are closed at once");
  line("shutdown_grace_seconds", num(c.shutdown_grace_seconds), "drain budget on SIGTERM/SIGINT");
  line("log_level", Quote(c.log_level), "trace | debug | info | warn | error");
  line("rate_limit_token_per_second", num(c.rate_limit_token_per_second), "requests/s per token (0 = off)");
  line("rate_limit_token_burst", num(c.rate_limit_token_burst), "bucket size per token");
  line("rate_limit_address_per_second", num(c.rate_limit_address_per_second), "requests/s per client IP (0 = off)");
  line("rate_limit_address_burst", num(c.rate_limit_address_burst), "bucket size per client IP");
  line("auth_failures_per_minute", num(c.auth_failures_per_minute), "failed authentications per client IP (0 = off)");
  line("smtp_url", Quote(c.smtp_url), c.smtp_url.empty() ? "unset: no notification e-mail" : "SMTP relay");
  line("smtp_from", Quote(c.smtp_from), "sender of notification e-mails");
  line("public_base_url", Quote(c.public_base_url), "origin of links in notifications");
  line("webhook_timeout_seconds", num(c.webhook_timeout_seconds), "per webhook delivery attempt");
  line("webhook_allow_private", c.webhook_allow_private ? "true" : "false",
       "allow loopback/private webhook targets (SSRF risk; false in production)");
  line("answer_link_ttl_hours", num(c.answer_link_ttl_hours), "answer links expire after this");
  line("dispatcher_threads", num(c.dispatcher_threads), "notification transport threads");
  line("retry_base_ms", num(c.retry_base_ms), "first retry delay; scales the retry schedule");
  line("retry_max_attempts", num(c.retry_max_attempts), "attempts per delivery (0 = the full schedule)");
  line("sse_heartbeat_seconds", num(c.sse_heartbeat_seconds), "keepalive on idle notification streams");
  return out;
}

}  // namespace streetwise::server
