// Standard Webhooks signatures (standard-webhooks/standard-webhooks spec/standard-webhooks.md).
//
// The signed content is "<webhook-id>.<webhook-timestamp>.<raw body>"; the signature header is
// "v1,<base64 HMAC-SHA256>". A secret "whsec_<base64>" signs with the decoded bytes of the base64
// part (as the reference libraries do); any other secret signs with its raw bytes. Pure; OpenSSL
// behind the .cpp. Thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace streetwise::notify {

// RFC 4648 §4 base64 with padding.
std::string Base64Encode(std::string_view data);
// Decodes padded or unpadded standard base64; nullopt on an invalid character or length.
std::optional<std::string> Base64Decode(std::string_view in);

// The HMAC key of a secret: base64-decoded "whsec_" payload, else the secret's bytes. nullopt if
// the secret has the whsec_ prefix but its payload is not valid base64.
std::optional<std::string> SigningKey(std::string_view secret);

// "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>". Precondition: SigningKey(secret) succeeds
// (webhook secrets are validated when they are stored); an invalid whsec_ payload signs with the
// raw secret bytes instead.
std::string SignWebhook(std::string_view secret, std::string_view msg_id, std::int64_t timestamp,
                        std::string_view body);

// True if any space-separated "v1,<sig>" entry of `signature_header` matches, compared in
// constant time. (The receiver's side, for tests and docs; timestamp tolerance is the caller's.)
bool VerifyWebhook(std::string_view secret, std::string_view msg_id, std::int64_t timestamp, std::string_view body,
                   std::string_view signature_header);

// A new secret: "whsec_" + base64 of 32 random bytes.
std::string NewWebhookSecret();

// HMAC-SHA256 of `data` (32 raw bytes).
std::string HmacSha256(std::string_view key, std::string_view data);

}  // namespace streetwise::notify
