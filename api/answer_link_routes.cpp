// Answer links from e-mails and chat messages: GET /a/{token} renders the question, its thread and
// an answer form (consuming nothing, so mail scanners that fetch every link do no harm); POST
// /a/{token} (form-encoded) posts the answer as the expert the link was issued to.
//
// These routes answer HTML, not JSON: they are for people in a browser. The token is the
// credential (no Authorization header); errors are explained on a page, never as an answer.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "api/route_context.hpp"
#include "core/validation.hpp"
#include "notify/render.hpp"
#include "service/notification_service.hpp"

namespace streetwise::api {
namespace asio = boost::asio;
using service::LinkProblem;

namespace {

using notify::HtmlEscape;

constexpr std::string_view kStyle =
    "body{font-family:system-ui,sans-serif;line-height:1.5;max-width:46em;margin:1.5em auto;padding:0 1em;"
    "color:#1a1a1a}article{border-top:1px solid #ccc;padding:.5em 0}.tag{background:#eef;border-radius:3px;"
    "padding:0 .35em;margin-right:.3em}.meta{color:#555;font-size:.9em}textarea{width:100%;font:inherit}"
    "button{font:inherit;padding:.45em 1.2em;background:#1a56db;color:#fff;border:0;border-radius:4px}"
    "button:focus,textarea:focus{outline:3px solid #f59e0b}.error{border-left:4px solid #b91c1c;padding-left:.8em}";

Response Html(int status, const std::string& title, const std::string& main) {
  Response r;
  r.status = status;
  r.content_type = "text/html; charset=utf-8";
  r.body = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{} - streetwise</title>\n"
      "<style>{}</style>\n</head>\n<body>\n<main>\n{}</main>\n</body>\n</html>\n",
      HtmlEscape(title), kStyle, main);
  // The token is in the URL: never leak it to other sites, caches or search engines.
  r.With("Cache-Control", "no-store");
  r.With("Referrer-Policy", "no-referrer");
  r.With("X-Robots-Tag", "noindex, nofollow");
  r.With("X-Content-Type-Options", "nosniff");
  r.With("Content-Security-Policy",
         "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'");
  return r;
}

Response ProblemPage(LinkProblem p) {
  switch (p) {
    case LinkProblem::kMalformed:
      return Html(400, "This link is not valid",
                  "<h1>This link is not valid</h1>\n<p class=\"error\">The answer link is incomplete or was not issued "
                  "by streetwise. Copy the whole link from the message, or open the question in the app.</p>\n");
    case LinkProblem::kTampered:
      return Html(403, "This link is not valid",
                  "<h1>This link is not valid</h1>\n<p class=\"error\">The answer link has been changed since it was "
                  "sent, so it cannot be used. Open the question from the original message, or in the app.</p>\n");
    case LinkProblem::kExpired:
      return Html(410, "This link has expired",
                  "<h1>This link has expired</h1>\n<p class=\"error\">Answer links work for a limited time. Open the "
                  "question in the app to answer it.</p>\n");
    case LinkProblem::kRevoked:
      return Html(403, "This link has been revoked",
                  "<h1>This link has been revoked</h1>\n<p class=\"error\">Access for this account was withdrawn "
                  "after the link was sent. Ask your administrator if you think this is a mistake.</p>\n");
    case LinkProblem::kGone:
      return Html(404, "This question no longer exists",
                  "<h1>This question no longer exists</h1>\n<p class=\"error\">The thread was deleted.</p>\n");
    case LinkProblem::kClosed:
      return Html(409, "This question is closed",
                  "<h1>This question is closed</h1>\n<p class=\"error\">The thread no longer accepts answers.</p>\n");
  }
  return Html(400, "This link is not valid", "<h1>This link is not valid</h1>\n");
}

std::string Name(const service::AnswerLinkView& v, const std::string& id) {
  auto it = v.names.find(id);
  return it == v.names.end() ? std::string("a former member") : it->second;
}

std::string ThreadHtml(const service::AnswerLinkView& v) {
  const auto& t = v.thread;
  std::string out = fmt::format("<h1>{}</h1>\n<p class=\"meta\">Asked by {} on {}", HtmlEscape(t.title),
                                HtmlEscape(Name(v, t.author_id)), core::FormatRfc3339(t.created_at).substr(0, 10));
  if (t.deal.needed_by) out += fmt::format(", needed by {}", HtmlEscape(*t.deal.needed_by));
  out += "</p>\n";
  if (!t.tags.empty()) {
    out += "<p><span class=\"meta\">Tags:</span> ";
    for (const auto& tag : t.tags) out += fmt::format("<span class=\"tag\">{}</span>", HtmlEscape(tag));
    out += "</p>\n";
  }
  out += "<section aria-label=\"Question\">\n" + t.body_html + "</section>\n";  // cmark safe mode
  out += fmt::format("<h2>{} answer{}</h2>\n", t.answers.size(), t.answers.size() == 1 ? "" : "s");
  for (const auto& a : t.answers) {
    bool accepted = t.accepted_answer_id && *t.accepted_answer_id == a.id;
    out += fmt::format("<article aria-label=\"Answer by {0}\">\n<p class=\"meta\">{1}Answer by {0} on {2}</p>\n{3}"
                       "</article>\n",
                       HtmlEscape(Name(v, a.author_id)), accepted ? "Accepted. " : "",
                       core::FormatRfc3339(a.created_at).substr(0, 10), a.body_html);
  }
  return out;
}

std::string FormHtml(const service::AnswerLinkView& v, std::string_view draft, std::string_view error) {
  std::string out = "<h2>Your answer</h2>\n<form method=\"post\">\n";
  if (!error.empty()) {
    out += fmt::format("<p class=\"error\" id=\"answer-error\" role=\"alert\">{}</p>\n", HtmlEscape(error));
  }
  out += fmt::format(
      "<label for=\"answer-body\">Write your answer (Markdown is supported)</label>\n"
      "<textarea id=\"answer-body\" name=\"body\" rows=\"10\" required{}>{}</textarea>\n"
      "<p><button type=\"submit\">Post answer as {}</button></p>\n</form>\n",
      error.empty() ? "" : " aria-describedby=\"answer-error\" aria-invalid=\"true\"", HtmlEscape(draft),
      HtmlEscape(v.expert.name));
  return out;
}

// application/x-www-form-urlencoded: '+' is a space, %XX a byte. nullopt on a bad escape.
std::optional<std::string> FormDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      auto hex = [](char h) -> int {
        if (h >= '0' && h <= '9') return h - '0';
        if (h >= 'a' && h <= 'f') return h - 'a' + 10;
        if (h >= 'A' && h <= 'F') return h - 'A' + 10;
        return -1;
      };
      int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<std::string> FormField(std::string_view body, std::string_view name) {
  while (!body.empty()) {
    auto amp = body.find('&');
    auto pair = body.substr(0, amp);
    auto eq = pair.find('=');
    auto key = FormDecode(pair.substr(0, eq));
    if (key && *key == name) return FormDecode(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    body.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::string Trim(std::string s) {
  auto ws = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  while (!s.empty() && ws(s.back())) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && ws(s[i])) ++i;
  return s.substr(i);
}

asio::awaitable<Response> ShowLink(Ctx& ctx, Call& call) {
  auto outcome = co_await ctx.deps.pool->Run([&] { return ctx.deps.notifications->OpenAnswerLink(call.params[0]); });
  if (outcome.error) {
    // Logged without the path: the token is a credential.
    spdlog::error("request {} answer link page failed: {} ({})", call.req.request_id, outcome.error->detail,
                  outcome.error->cause);
    co_return Html(503, "Please try again", "<h1>Please try again</h1>\n<p>streetwise could not load this page.</p>\n");
  }
  if (!outcome.view) co_return ProblemPage(*outcome.problem);
  const auto& v = *outcome.view;
  co_return Html(200, v.thread.title, ThreadHtml(v) + FormHtml(v, "", ""));
}

asio::awaitable<Response> PostLink(Ctx& ctx, Call& call) {
  auto ct = call.req.Header("content-type");
  std::string media = ct ? std::string(ct->substr(0, ct->find(';'))) : std::string();
  for (auto& c : media) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!media.empty() && media.back() == ' ') media.pop_back();
  if (media != "application/x-www-form-urlencoded") {
    co_return Html(415, "Unsupported form",
                   "<h1>Unsupported form</h1>\n<p class=\"error\">Submit the answer with the form on this page.</p>\n");
  }
  auto field = FormField(call.req.body, "body");
  std::string body = Trim(field.value_or(""));
  auto invalid = [&](std::string error) -> asio::awaitable<Response> {
    auto outcome = co_await ctx.deps.pool->Run([&] { return ctx.deps.notifications->OpenAnswerLink(call.params[0]); });
    if (!outcome.view) co_return ProblemPage(outcome.problem.value_or(LinkProblem::kMalformed));
    co_return Html(422, "Please check your answer", ThreadHtml(*outcome.view) + FormHtml(*outcome.view, body, error));
  };
  if (!field || body.empty()) co_return co_await invalid("Please write an answer before posting.");
  if (!core::IsValidUtf8(body)) co_return co_await invalid("The answer contains invalid characters.");
  auto outcome =
      co_await ctx.deps.pool->Run([&] { return ctx.deps.notifications->AnswerViaLink(call.params[0], body); });
  if (outcome.problem) co_return ProblemPage(*outcome.problem);
  if (outcome.error) {
    if (outcome.error->code == core::ErrorCode::kInvalidArgument) co_return co_await invalid(outcome.error->detail);
    spdlog::error("request {} answer via link failed: {} ({})", call.req.request_id, outcome.error->detail,
                  outcome.error->cause);
    co_return Html(503, "Please try again",
                   "<h1>Your answer was not posted</h1>\n<p>Please go back and submit it again.</p>\n");
  }
  const auto& v = *outcome.view;
  std::string main = fmt::format(
      "<p role=\"status\"><strong>Thank you, {}: your answer was posted.</strong></p>\n"
      "<p class=\"meta\">Answer id {}</p>\n",
      HtmlEscape(v.expert.name), HtmlEscape(outcome.answer->id));
  // Show the thread as it is now, with the new answer.
  auto fresh = co_await ctx.deps.pool->Run([&] { return ctx.deps.notifications->OpenAnswerLink(call.params[0]); });
  if (fresh.view) main += ThreadHtml(*fresh.view);
  co_return Html(201, "Answer posted", main);
}

}  // namespace

std::vector<Route> AnswerLinkRoutes() {
  return {
      {"GET", "/a/:token", &ShowLink, false},
      {"POST", "/a/:token", &PostLink, false},
  };
}

}  // namespace streetwise::api
