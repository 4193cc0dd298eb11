// Outbound HTTP (webhooks) and SMTP (e-mail) over libcurl's multi interface.
//
// The only includer of <curl/curl.h>. Each transport thread drives one curl multi handle, so a
// slow or hung receiver occupies a transfer slot, never a thread, and other transfers proceed.
// Redirects are never followed; environment proxies are ignored; response bodies are read up to
// 64 KiB; with allow_private = false every address libcurl connects to is checked by
// IsPublicAddress (url_guard.hpp), which also defeats DNS re-binding.
//
// Thread-safe. Completion callbacks run on a transport thread: they must not block (hand the
// result to another thread, e.g. the dispatcher's committer).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "notify/retry_policy.hpp"

namespace streetwise::notify {

struct HttpPost {
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct MailMessage {
  std::string relay_url;  // smtp://host:port or smtps://host:port, optionally with user:password@
  std::string from;       // bare address: "streetwise@example.com"
  std::string to;         // bare address
  std::vector<std::pair<std::string, std::string>> headers;  // Message-ID, Auto-Submitted, ...
  std::string subject;    // UTF-8; encoded per RFC 2047 when not ASCII
  std::string text;       // text/plain part
  std::string html;       // text/html part
};

struct TransferResult {
  AttemptOutcome outcome = AttemptOutcome::kTransient;
  std::optional<int> code;                              // HTTP status or last SMTP reply code
  std::string error;                                    // empty when delivered
  std::optional<std::chrono::milliseconds> retry_after;  // HTTP Retry-After (429/503), seconds form
  std::int64_t duration_ms = 0;
  bool aborted = false;  // never completed because the transport stopped: not an attempt
};

struct TransportOptions {
  std::chrono::milliseconds http_timeout{10'000};  // whole attempt, connect included
  std::chrono::milliseconds smtp_timeout{30'000};
  bool allow_private = true;  // see url_guard.hpp
  std::size_t threads = 1;    // transport threads (curl multi handles), >= 1
};

class Transport {
 public:
  using Done = std::function<void(TransferResult)>;

  explicit Transport(TransportOptions options);
  ~Transport();  // Stop()
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Queue a transfer; `done` is called exactly once (also with an error result when the transport
  // is stopping).
  void Post(HttpPost request, Done done);
  void Send(MailMessage message, Done done);

  // Aborts running transfers (their callbacks get "transport stopped") and joins the threads.
  // Idempotent.
  void Stop();

  // Transfers queued or running (for metrics).
  std::size_t InFlight() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "=?UTF-8?B?...?=" when `s` is not printable ASCII, else `s` (RFC 2047 header encoding).
std::string EncodeHeaderWord(std::string_view s);

}  // namespace streetwise::notify
