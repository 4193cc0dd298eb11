// Answer links: signed, expiring tokens bound to one expert and one thread, carried in e-mails and
// chat messages as <public_base_url>/a/<token>. Pure (the key and the time are inputs);
// thread-safe.
//
// Token: base64url("1|org|user|thread|issued_ms|expires_ms") "." base64url(HMAC-SHA256(key,
// payload)). Revocation is decided by the caller with the stored state (notification_service).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/clock.hpp"

namespace streetwise::notify {

struct AnswerLinkClaims {
  std::string org_id;
  std::string user_id;
  std::string thread_id;
  core::TimePoint issued_at;
  core::TimePoint expires_at;
};

enum class AnswerLinkError {
  kMalformed,  // not a token we issue (truncated, bad encoding, wrong version)
  kTampered,   // well-formed but the signature does not match
  kExpired,    // genuine but past expires_at
};

struct AnswerLinkCheck {
  std::optional<AnswerLinkClaims> claims;  // set when the token is genuine and unexpired
  std::optional<AnswerLinkError> error;    // set otherwise
};

// Precondition: ids contain no '|' (ids are [a-z0-9]).
std::string SignAnswerLink(std::string_view key, const AnswerLinkClaims& claims);

// Verifies the signature in constant time, then the expiry against `now`.
AnswerLinkCheck VerifyAnswerLink(std::string_view key, std::string_view token, core::TimePoint now);

}  // namespace streetwise::notify
