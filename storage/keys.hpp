// The persisted key layout: column-family names and key encodings, in one place.
// docs/storage-format.md describes the same layout; change both together.
//
// Ids never contain '/', so '/' separates key parts; every org-scoped key starts with "<org_id>/",
// which is what makes prefix scans tenant-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace streetwise::storage::keys {

// Column families. Names are part of the on-disk format; never rename.
inline constexpr std::string_view kCfOrgs = "orgs";                   // org_id -> Org
inline constexpr std::string_view kCfUsers = "users";                 // org/user_id -> User
inline constexpr std::string_view kCfTokens = "tokens";               // token_id -> Token
inline constexpr std::string_view kCfTokenHashes = "token_hashes";    // sha256(secret) -> token_id
inline constexpr std::string_view kCfUserTokens = "user_tokens";      // org/user_id/token_id -> ""
inline constexpr std::string_view kCfThreads = "threads";             // org/thread_id -> Thread aggregate
inline constexpr std::string_view kCfThreadIndex = "thread_index";    // org/thread_id -> list filter fields
inline constexpr std::string_view kCfTagIndex = "tag_index";          // org/tag/thread_id -> ""
inline constexpr std::string_view kCfTagCounts = "tag_counts";        // org/tag -> int64 (merge: add)
inline constexpr std::string_view kCfRevisions = "revisions";         // org/thread_id/rev(be64) -> Revision
inline constexpr std::string_view kCfAnswerLocator = "answer_locator";  // org/answer_id -> thread_id
inline constexpr std::string_view kCfVotes = "votes";                 // org/answer_id/user_id -> "-1"|"1"
inline constexpr std::string_view kCfIdempotency = "idempotency";     // org/user_id/sha256(key) -> record
inline constexpr std::string_view kCfChangeLog = "change_log";        // seq(be64) -> Event
inline constexpr std::string_view kCfOrgEvents = "org_events";        // org/seq(be64) -> Event
inline constexpr std::string_view kCfSuggestions = "suggestions";      // org/suggestion_id -> Suggestion
inline constexpr std::string_view kCfCounters = "counters";            // org/<counter name> -> int64 (merge: add)
// Expert routing and notifications (values are JSON owned by routing/ and notify/ codecs).
inline constexpr std::string_view kCfExpertise = "expertise";          // org/user_id -> Expertise
inline constexpr std::string_view kCfTagExperts = "tag_experts";      // org/tag/user_id -> level ("1".."5")
inline constexpr std::string_view kCfWatches = "watches";              // org/tag/user_id -> ""
inline constexpr std::string_view kCfAssignments = "assignments";      // org/assignment_id -> Assignment
inline constexpr std::string_view kCfThreadAssignments = "thread_assignments";  // org/thread_id/assignment_id -> ""
inline constexpr std::string_view kCfUserAssignments = "user_assignments";  // org/user_id/assignment_id -> "" (open ones)
inline constexpr std::string_view kCfRouting = "routing";              // org/thread_id -> RoutingRecord
inline constexpr std::string_view kCfTimers = "timers";                // due_ms(be64)/timer_id -> Timer
inline constexpr std::string_view kCfOutbox = "outbox";                // due_ms(be64)/notification_id -> OutboxEntry
inline constexpr std::string_view kCfInbox = "inbox";                  // org/user_id/notification_id -> InboxItem
inline constexpr std::string_view kCfWebhooks = "webhooks";            // org/webhook_id -> Webhook
inline constexpr std::string_view kCfDeliveries = "deliveries";        // org/webhook_id/notification_id/attempt(be64) -> Delivery
// Insights (values owned by insights/ and service/insights_service.cpp), see docs/insights.md:
//   org/r/<class>/<slice>/<day>  -> thread rollup      org/x/<slice>/<day>/<user_id> -> expert rollup
//   org/c/<thread_id>            -> the thread's current contributions to the rollups
//   org/o/<created_ms(be64)>/<thread_id> -> open (unanswered) thread    org/d/<user_id> -> digest subscription
inline constexpr std::string_view kCfInsights = "insights";
inline constexpr std::string_view kCfDigestSubscriptions = "digest_subscriptions";  // org/user_id -> weekly digest subscription
inline constexpr std::string_view kCfMeta = "meta";                   // named singletons

inline constexpr std::string_view kMetaBootstrapped = "bootstrapped";  // default org id once created
inline constexpr std::string_view kMetaFormat = "format_version";
inline constexpr std::string_view kMetaRouterPosition = "router_position";  // change-log seq the router applied
inline constexpr std::string_view kMetaNotifyPosition = "notify_position";  // change-log seq notify/ consumed
inline constexpr std::string_view kMetaInsightsPosition = "insights_position";  // change-log seq the insights rollups include
inline constexpr std::string_view kMetaAnswerLinkSecret = "answer_link_secret";  // base64url HMAC key of answer links

// The format version ("fv") every JSON value carries (storage/codec.cpp); backup manifests record
// it so a restore can refuse a database written in a format this build cannot read.
inline constexpr std::int64_t kValueFormatVersion = 1;

// Big-endian so that byte order equals numeric order.
inline std::string BigEndian64(std::uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xFF);
    v >>= 8;
  }
  return out;
}

inline std::uint64_t ParseBigEndian64(std::string_view s) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8 && i < s.size(); ++i) v = (v << 8) | static_cast<unsigned char>(s[i]);
  return v;
}

template <class... Parts>
std::string Join(const Parts&... parts) {
  std::string out;
  ((out.append(parts), out.push_back('/')), ...);
  out.pop_back();
  return out;
}

// "<org>/" : the prefix of every key of one organisation in an org-scoped family.
inline std::string OrgPrefix(std::string_view org) { return std::string(org) + "/"; }

}  // namespace streetwise::storage::keys
