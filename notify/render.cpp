#include "notify/render.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

namespace streetwise::notify {
namespace json = boost::json;

namespace {

json::object Data(const core::Notification& n) {
  if (n.data_json.empty()) return {};
  boost::system::error_code ec;
  auto v = json::parse(n.data_json, ec);
  if (ec || !v.is_object()) return {};
  return v.as_object();
}

std::string Str(const json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::vector<std::string> Tags(const json::object& o) {
  std::vector<std::string> out;
  if (auto* v = o.if_contains("tags"); v && v->is_array()) {
    for (const auto& t : v->get_array()) {
      if (t.is_string()) out.emplace_back(t.get_string());
    }
  }
  return out;
}

struct Similar {
  std::string title;
  std::string url;
};

std::vector<Similar> SimilarThreads(const json::object& o, const std::string& thread_url) {
  std::vector<Similar> out;
  auto* v = o.if_contains("similar");
  if (!v || !v->is_array()) return out;
  // thread_url is ".../v1/threads/<id>": similar links replace the id.
  std::string base = thread_url.substr(0, thread_url.rfind('/') + 1);
  for (const auto& s : v->get_array()) {
    if (!s.is_object() || out.size() >= 5) continue;
    const auto& so = s.get_object();
    std::string id = Str(so, "thread_id");
    if (id.empty()) id = Str(so, "id");
    std::string title = Str(so, "title");
    if (id.empty() || title.empty()) continue;
    out.push_back({title, base + id});
  }
  return out;
}

std::string Title(const json::object& d) {
  std::string t = Str(d, "title");
  return t.empty() ? "(untitled thread)" : t;
}

std::string Headline(const core::Notification& n, const json::object& d) {
  std::string title = Title(d);
  if (n.type == core::kNotifyThreadAnswered) return fmt::format("New answer: {}", title);
  if (n.type == core::kNotifyAssignmentCreated) return fmt::format("Can you answer: {}", title);
  if (n.type == core::kNotifyAssignmentReminder) return fmt::format("Reminder, still unanswered: {}", title);
  if (n.type == core::kNotifyThreadEscalated) return fmt::format("Escalated, needs an answer: {}", title);
  if (n.type == core::kNotifyWatchedTag) return fmt::format("New question: {}", title);
  if (n.type == core::kNotifyInsightsDigest) return title;
  return fmt::format("{}: {}", n.type, title);
}

std::string Lead(const core::Notification& n, const json::object& d) {
  std::string who = Str(d, "answered_by_name");
  if (n.type == core::kNotifyThreadAnswered) {
    return who.empty() ? "Your question has a new answer." : fmt::format("{} answered your question.", who);
  }
  if (n.type == core::kNotifyAssignmentCreated) return "A colleague in the field needs your expertise.";
  if (n.type == core::kNotifyAssignmentReminder) return "This question is still waiting for an answer.";
  if (n.type == core::kNotifyThreadEscalated) return "Nobody has answered this question yet; it has been escalated to you.";
  if (n.type == core::kNotifyWatchedTag) return "A new question was asked in a tag you watch.";
  if (n.type == core::kNotifyInsightsDigest) return "Your weekly streetwise insights.";
  return "There is news on a thread.";
}

std::string AnswerLabel(const core::Notification& n) {
  return n.type == core::kNotifyThreadAnswered ? "Read the thread and reply" : "Answer this question";
}

// Slack mrkdwn escaping (only &, < and > are special).
std::string MrkdwnEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      default: out += c;
    }
  }
  return out;
}

// Truncates to at most `max` bytes on a UTF-8 code point boundary.
std::string Truncate(std::string s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  s.resize(cut);
  return s + "…";
}

std::string JoinTags(const std::vector<std::string>& tags, std::string_view sep) {
  std::string out;
  for (const auto& t : tags) {
    if (!out.empty()) out += sep;
    out += t;
  }
  return out;
}

}  // namespace

std::string HtmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

Links MakeLinks(const std::string& public_base_url, const core::Notification& n,
                const std::optional<std::string>& answer_token) {
  std::string base = public_base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  Links l;
  // Notifications without a thread (the insights digest) link to nothing.
  if (!n.thread_id.empty()) l.thread_url = fmt::format("{}/v1/threads/{}", base, n.thread_id);
  if (answer_token) l.answer_url = fmt::format("{}/a/{}", base, *answer_token);
  return l;
}

std::string WebhookBody(const core::Notification& n, WebhookFormat format, const Links& links) {
  json::object d = Data(n);
  if (format == WebhookFormat::kSlack) {
    std::string title = Title(d);
    auto tags = Tags(d);
    std::string text = fmt::format("{} {}", Headline(n, d), links.answer_url.value_or(links.thread_url));
    json::array blocks;
    blocks.push_back(json::object{
        {"type", "header"},
        {"text", json::object{{"type", "plain_text"}, {"text", Truncate(Headline(n, d), 140)}, {"emoji", false}}}});
    std::string section = fmt::format("*{}*\n{}", MrkdwnEscape(title), MrkdwnEscape(Lead(n, d)));
    if (auto ex = Str(d, "answer_excerpt"); !ex.empty()) section += "\n>" + MrkdwnEscape(Truncate(ex, 500));
    else if (auto ex2 = Str(d, "excerpt"); !ex2.empty()) section += "\n>" + MrkdwnEscape(Truncate(ex2, 500));
    blocks.push_back(json::object{{"type", "section"},
                                  {"text", json::object{{"type", "mrkdwn"}, {"text", Truncate(section, 2900)}}}});
    std::string ctx = tags.empty() ? std::string("no tags") : "#" + JoinTags(tags, " #");
    if (n.urgent) ctx += " · urgent";
    blocks.push_back(json::object{
        {"type", "context"},
        {"elements", json::array{json::object{{"type", "mrkdwn"}, {"text", MrkdwnEscape(ctx)}}}}});
    std::string label = links.answer_url ? AnswerLabel(n) : std::string("Open the thread");
    json::object button{{"type", "button"},
                        {"text", json::object{{"type", "plain_text"}, {"text", label}}},
                        {"url", links.answer_url.value_or(links.thread_url)}};
    json::array elements;
    elements.push_back(std::move(button));
    if (!links.answer_url.value_or(links.thread_url).empty()) {
      blocks.push_back(json::object{{"type", "actions"}, {"elements", std::move(elements)}});
    }
    return json::serialize(json::object{{"text", text}, {"blocks", std::move(blocks)}});
  }
  json::object data;
  data["notification_id"] = n.id;
  data["org_id"] = n.org_id;
  data["thread_id"] = n.thread_id;
  if (n.recipient_user_id) data["recipient_user_id"] = *n.recipient_user_id;
  if (n.assignment_id) data["assignment_id"] = *n.assignment_id;
  data["urgent"] = n.urgent;
  data["url"] = links.thread_url;
  if (links.answer_url) data["answer_url"] = *links.answer_url;
  for (const auto& [k, v] : d) {
    if (!data.contains(k)) data[k] = v;
  }
  return json::serialize(json::object{
      {"type", n.type}, {"timestamp", core::FormatRfc3339(n.created_at)}, {"data", std::move(data)}});
}

namespace {

void AppendText(std::string& out, const core::Notification& n, const json::object& d, const Links& links) {
  out += Title(d) + "\n";
  auto tags = Tags(d);
  if (!tags.empty()) out += "Tags: " + JoinTags(tags, ", ") + "\n";
  if (n.urgent) out += "Urgent: the asker needs this within 24 hours.\n";
  if (auto ex = Str(d, "answer_excerpt"); !ex.empty()) out += "\n" + Truncate(ex, 1000) + "\n";
  else if (auto ex2 = Str(d, "excerpt"); !ex2.empty()) out += "\n" + Truncate(ex2, 4000) + "\n";
  if (links.answer_url) out += fmt::format("\n{}: {}\n", AnswerLabel(n), *links.answer_url);
  if (!links.thread_url.empty()) out += fmt::format("Thread (API): {}\n", links.thread_url);
  auto similar = SimilarThreads(d, links.thread_url);
  if (!similar.empty()) {
    out += "\nSimilar threads that may already answer it:\n";
    for (const auto& s : similar) out += fmt::format("- {} <{}>\n", s.title, s.url);
  }
}

void AppendHtml(std::string& out, const core::Notification& n, const json::object& d, const Links& links) {
  out += fmt::format("<h2 style=\"font-size:1.2em;margin:0 0 .5em\">{}</h2>\n", HtmlEscape(Title(d)));
  auto tags = Tags(d);
  if (!tags.empty()) {
    out += "<p>Tags:";
    for (const auto& t : tags) {
      out += fmt::format(" <span style=\"background:#eef;padding:0 .3em;border-radius:3px\">{}</span>",
                         HtmlEscape(t));
    }
    out += "</p>\n";
  }
  if (n.urgent) out += "<p><strong>Urgent:</strong> the asker needs this within 24 hours.</p>\n";
  if (auto ex = Str(d, "answer_excerpt"); !ex.empty()) {
    out += fmt::format("<blockquote>{}</blockquote>\n", HtmlEscape(Truncate(ex, 1000)));
  } else if (auto ex2 = Str(d, "excerpt"); !ex2.empty()) {
    out += fmt::format("<blockquote style=\"white-space:pre-line\">{}</blockquote>\n", HtmlEscape(Truncate(ex2, 4000)));
  }
  if (links.answer_url) {
    out += fmt::format(
        "<p><a href=\"{}\" style=\"display:inline-block;padding:.5em 1em;background:#1a56db;color:#fff;"
        "text-decoration:none;border-radius:4px\">{}</a></p>\n",
        HtmlEscape(*links.answer_url), HtmlEscape(AnswerLabel(n)));
  }
  auto similar = SimilarThreads(d, links.thread_url);
  if (!similar.empty()) {
    out += "<p>Similar threads that may already answer it:</p>\n<ul>\n";
    for (const auto& s : similar) {
      out += fmt::format("<li><a href=\"{}\">{}</a></li>\n", HtmlEscape(s.url), HtmlEscape(s.title));
    }
    out += "</ul>\n";
  }
}

std::string HtmlDocument(const std::string& title, const std::string& body) {
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>{}</title></head>\n"
      "<body style=\"font-family:sans-serif;line-height:1.4;max-width:40em\">\n{}"
      "<p style=\"color:#555;font-size:.9em\">You get this because of your streetwise notification settings.</p>\n"
      "</body>\n</html>\n",
      HtmlEscape(title), body);
}

}  // namespace

EmailContent RenderEmail(const core::Notification& n, const Links& links, const std::string& recipient_name) {
  json::object d = Data(n);
  EmailContent e;
  e.subject = Truncate(Headline(n, d), 200);
  std::string greeting = recipient_name.empty() ? "Hello," : fmt::format("Hello {},", recipient_name);
  e.text = greeting + "\n\n" + Lead(n, d) + "\n\n";
  AppendText(e.text, n, d, links);
  e.text += "\n-- \nYou get this because of your streetwise notification settings.\n";
  std::string body = fmt::format("<p>{}</p>\n<p>{}</p>\n", HtmlEscape(greeting), HtmlEscape(Lead(n, d)));
  AppendHtml(body, n, d, links);
  e.html = HtmlDocument(e.subject, body);
  return e;
}

EmailContent RenderDigest(const std::vector<DigestEntry>& entries, const std::string& recipient_name) {
  EmailContent e;
  e.subject = fmt::format("Your streetwise digest: {} notification{}", entries.size(), entries.size() == 1 ? "" : "s");
  std::string greeting = recipient_name.empty() ? "Hello," : fmt::format("Hello {},", recipient_name);
  e.text = greeting + "\n\nHere is what happened since your last digest.\n";
  std::string body = fmt::format("<p>{}</p>\n<p>Here is what happened since your last digest.</p>\n", HtmlEscape(greeting));
  for (const auto& entry : entries) {
    json::object d = Data(entry.notification);
    e.text += "\n== " + Headline(entry.notification, d) + "\n" + Lead(entry.notification, d) + "\n";
    AppendText(e.text, entry.notification, d, entry.links);
    body += "<hr>\n<p><strong>" + HtmlEscape(Lead(entry.notification, d)) + "</strong></p>\n";
    AppendHtml(body, entry.notification, d, entry.links);
  }
  e.text += "\n-- \nYou get this because of your streetwise notification settings (daily digest).\n";
  e.html = HtmlDocument(e.subject, body);
  return e;
}

}  // namespace streetwise::notify
