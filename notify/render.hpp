// What a notification looks like on each channel: the Standard Webhooks JSON envelope, the
// Slack-compatible body, and the e-mail text and HTML parts. Pure and deterministic (the same
// notification renders to the same bytes on every retry); thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/notification.hpp"
#include "notify/records.hpp"

namespace streetwise::notify {

struct Links {
  std::string thread_url;                 // <public_base_url>/v1/threads/<id> (the API resource)
  std::optional<std::string> answer_url;  // <public_base_url>/a/<token> for a person, else none
};

// Links for one notification: `answer_token` is the signed answer-link token (nullopt for org
// webhooks, which are not a person).
Links MakeLinks(const std::string& public_base_url, const core::Notification& n,
                const std::optional<std::string>& answer_token);

// Standard: {"type", "timestamp", "data": {notification_id, org_id, thread_id, url, answer_url?,
// recipient_user_id?, assignment_id?, urgent, ...the notification's data}}.
// Slack: {"text", "blocks": [header, section, context, actions]} (Block Kit, mrkdwn escaped).
std::string WebhookBody(const core::Notification& n, WebhookFormat format, const Links& links);

struct EmailContent {
  std::string subject;
  std::string text;  // text/plain; charset=utf-8
  std::string html;  // text/html; charset=utf-8
};

// One notification to one person.
EmailContent RenderEmail(const core::Notification& n, const Links& links, const std::string& recipient_name);

struct DigestEntry {
  core::Notification notification;
  Links links;
};
// The daily digest: every notification held back for it, oldest first.
EmailContent RenderDigest(const std::vector<DigestEntry>& entries, const std::string& recipient_name);

// HTML-escapes &, <, >, " and '.
std::string HtmlEscape(std::string_view s);

}  // namespace streetwise::notify
