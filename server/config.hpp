// Server configuration: parsed and validated once into this plain struct.
//
// Precedence: built-in defaults < TOML file (--config) < STREETWISE_* environment < flags.
// Unknown keys in the file are rejected with the key's name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "core/error.hpp"
#include "storage/store.hpp"

namespace streetwise::server {

struct Config {
  std::filesystem::path data_dir = "data";          // data_dir: RocksDB and runtime files
  std::string listen_host = "127.0.0.1";            // listen = "127.0.0.1:8080"
  std::uint16_t listen_port = 8080;                 // 0 picks a free port (written to DATA/listen-address)
  storage::Durability durability = storage::Durability::kFsync;  // durability = "fsync" | "os"
  std::size_t io_threads = 2;                       // io_threads: threads running HTTP sessions
  std::size_t blocking_threads = 16;                // blocking_threads: pool for commits (group-commit width)
  std::size_t search_threads = 2;                     // search_threads: threads matching one search together (1 = off)
  std::size_t thread_cache_bytes = 256u << 20;      // thread_cache_bytes: rendered GET /v1/threads/{id} bodies (0 = off)
  std::string root_token;                           // root_token / STREETWISE_ROOT_TOKEN: operator token ("" disables)
  std::size_t max_body_bytes = 1u << 20;            // max_body_bytes: larger bodies get 413
  std::size_t max_header_bytes = 16u << 10;         // max_header_bytes: larger headers get 431
  std::size_t request_timeout_seconds = 30;         // request_timeout_seconds: whole-request read deadline
  std::size_t idle_timeout_seconds = 60;            // idle_timeout_seconds: keep-alive idle limit
  std::size_t max_connections = 10000;              // max_connections: further connections are refused
  std::size_t shutdown_grace_seconds = 10;          // shutdown_grace_seconds: drain budget on SIGTERM
  std::string log_level = "info";                   // log_level: trace|debug|info|warn|error
  std::size_t rate_limit_token_per_second = 0;      // rate_limit_token_per_second: requests/s per token (0 = off)
  std::size_t rate_limit_token_burst = 100;         // rate_limit_token_burst: bucket size per token
  std::size_t rate_limit_address_per_second = 0;    // rate_limit_address_per_second: requests/s per client IP (0 = off)
  std::size_t rate_limit_address_burst = 200;       // rate_limit_address_burst: bucket size per client IP
  std::size_t auth_failures_per_minute = 300;       // auth_failures_per_minute: failed auths per client IP (0 = off)
  // Notification delivery (docs/notifications.md).
  std::string smtp_url;                             // smtp_url: relay, e.g. "smtp://127.0.0.1:2525" ("" = no e-mail)
  std::string smtp_from = "streetwise@localhost";   // smtp_from: sender address of notification e-mails
  std::string public_base_url = "http://127.0.0.1:8080";  // public_base_url: origin of links in messages
  std::size_t webhook_timeout_seconds = 10;         // webhook_timeout_seconds: per delivery attempt
  bool webhook_allow_private = true;                // webhook_allow_private: allow loopback/private targets (SSRF!)
  std::size_t answer_link_ttl_hours = 168;          // answer_link_ttl_hours: answer links expire after this (0 = none)
  std::size_t dispatcher_threads = 2;               // dispatcher_threads: transport threads (curl multi handles)
  std::size_t retry_base_ms = 5000;                 // retry_base_ms: first retry delay; scales the whole schedule
  std::size_t retry_max_attempts = 0;               // retry_max_attempts: attempts per delivery (0 = schedule, 11)
  std::size_t sse_heartbeat_seconds = 15;           // sse_heartbeat_seconds: keepalive comment on idle streams
};

// Reads a TOML file into `config` (only keys present override). kInvalidArgument naming the key
// and the problem for unknown keys, wrong types or bad values.
core::Status LoadConfigFile(const std::filesystem::path& file, Config& config);

// Applies STREETWISE_<KEY> environment variables (upper-case key names).
core::Status ApplyEnvironment(Config& config);

// Parses "host:port".
core::Status ParseListen(std::string_view value, Config& config);
core::Status ParseDurability(std::string_view value, Config& config);

}  // namespace streetwise::server
