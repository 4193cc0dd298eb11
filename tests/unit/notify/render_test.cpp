#include "notify/render.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include "notify/records.hpp"

namespace streetwise::notify {
namespace {
TEST_SUITE_BEGIN("notify");
namespace json = boost::json;

core::Notification Answered() {
  core::Notification n;
  n.id = "n0001";
  n.org_id = "o1";
  n.type = core::kNotifyThreadAnswered;
  n.thread_id = "t1";
  n.recipient_user_id = "u1";
  n.created_at = core::FromUnixMillis(1'780'000'000'000);
  n.data_json = R"({"title":"Price <EMEA> & renewals","tags":["pricing","emea"],"answer_excerpt":"Use the calculator",)"
                R"("similar":[{"thread_id":"t9","title":"Older pricing thread"}]})";
  return n;
}

TEST_CASE("links use the public base URL") {
  auto l = MakeLinks("https://sw.example.com/", Answered(), std::string("TOKEN"));
  CHECK(l.thread_url == "https://sw.example.com/v1/threads/t1");
  CHECK(l.answer_url.value() == "https://sw.example.com/a/TOKEN");
  CHECK_FALSE(MakeLinks("https://sw.example.com", Answered(), std::nullopt).answer_url);
}

TEST_CASE("the standard webhook body: type, timestamp and data with ids and links") {
  auto n = Answered();
  auto links = MakeLinks("http://h", n, std::string("TOK"));
  auto body = WebhookBody(n, WebhookFormat::kStandard, links);
  CHECK(body == WebhookBody(n, WebhookFormat::kStandard, links));  // deterministic: same bytes on retry
  auto v = json::parse(body).as_object();
  CHECK(v.at("type") == "thread.answered");
  CHECK(v.at("timestamp") == "2026-05-28T20:26:40.000Z");
  const auto& d = v.at("data").as_object();
  CHECK(d.at("notification_id") == "n0001");
  CHECK(d.at("thread_id") == "t1");
  CHECK(d.at("recipient_user_id") == "u1");
  CHECK(d.at("url") == "http://h/v1/threads/t1");
  CHECK(d.at("answer_url") == "http://h/a/TOK");
  CHECK(d.at("title") == "Price <EMEA> & renewals");
  CHECK(d.at("tags").as_array().size() == 2);
}

TEST_CASE("the Slack body: text fallback plus escaped Block Kit blocks") {
  auto n = Answered();
  auto body = WebhookBody(n, WebhookFormat::kSlack, MakeLinks("http://h", n, std::string("TOK")));
  auto v = json::parse(body).as_object();
  CHECK(v.at("text").as_string().find("http://h/a/TOK") != json::string::npos);
  const auto& blocks = v.at("blocks").as_array();
  REQUIRE(blocks.size() == 4);
  CHECK(blocks[0].at("type") == "header");
  CHECK(blocks[0].at("text").at("text").as_string().size() <= 150);
  std::string section(blocks[1].at("text").at("text").as_string());
  CHECK(section.find("&lt;EMEA&gt; &amp; renewals") != std::string::npos);
  CHECK(section.find("<EMEA>") == std::string::npos);
  CHECK(blocks[3].at("elements").at(0).at("url") == "http://h/a/TOK");
}

TEST_CASE("e-mail: both parts carry the question, tags, similar threads and the answer link; HTML is escaped") {
  auto n = Answered();
  auto e = RenderEmail(n, MakeLinks("http://h", n, std::string("TOK")), "Alice <admin>");
  CHECK(e.subject == "New answer: Price <EMEA> & renewals");
  CHECK(e.text.find("Hello Alice <admin>,") != std::string::npos);
  CHECK(e.text.find("Tags: pricing, emea") != std::string::npos);
  CHECK(e.text.find("http://h/a/TOK") != std::string::npos);
  CHECK(e.text.find("Older pricing thread <http://h/v1/threads/t9>") != std::string::npos);
  CHECK(e.html.find("Price &lt;EMEA&gt; &amp; renewals") != std::string::npos);
  CHECK(e.html.find("Alice &lt;admin&gt;") != std::string::npos);
  CHECK(e.html.find("href=\"http://h/a/TOK\"") != std::string::npos);
  CHECK(e.html.find("<EMEA>") == std::string::npos);
  CHECK(e.html.find("lang=\"en\"") != std::string::npos);
}

TEST_CASE("the digest lists every held notification") {
  auto a = Answered();
  auto b = Answered();
  b.id = "n0002";
  b.type = core::kNotifyAssignmentCreated;
  b.data_json = R"({"title":"Second question"})";
  auto d = RenderDigest({{a, MakeLinks("http://h", a, std::nullopt)}, {b, MakeLinks("http://h", b, std::nullopt)}}, "Al");
  CHECK(d.subject == "Your streetwise digest: 2 notifications");
  CHECK(d.text.find("Price <EMEA> & renewals") != std::string::npos);
  CHECK(d.text.find("Second question") != std::string::npos);
  CHECK(d.html.find("Second question") != std::string::npos);
}

TEST_CASE("records round-trip through their codecs") {
  DeliveryEntry e;
  e.delivery_id = "n0001.wh1";
  e.channel = Channel::kOrgWebhook;
  e.org_id = "o1";
  e.endpoint = "wh1";
  e.notification = Answered();
  e.attempts = 3;
  e.prior_attempts = 2;
  e.first_attempt_at = core::FromUnixMillis(5);
  e.last_error = "HTTP 500";
  e.created_at = core::FromUnixMillis(4);
  auto enc = Encode(e);
  CHECK(IsDeliveryEntry(enc));
  auto back = DecodeDeliveryEntry(enc);
  REQUIRE(back.ok());
  CHECK(back->delivery_id == e.delivery_id);
  CHECK(back->attempts == 3);
  CHECK(back->prior_attempts == 2);
  CHECK(back->notification->id == "n0001");
  CHECK(back->notification->data_json.find("Older pricing thread") != std::string::npos);

  NotificationSettings s;
  s.webhook_url = "https://x";
  s.webhook_format = WebhookFormat::kSlack;
  s.quiet_hours = QuietHours{22 * 60, 7 * 60};
  s.timezone = "Europe/Berlin";
  s.digest = true;
  auto sb = DecodeSettings(Encode(s));
  REQUIRE(sb.ok());
  CHECK(sb->webhook_format == WebhookFormat::kSlack);
  CHECK(sb->quiet_hours->end_minute == 7 * 60);
  CHECK(sb->digest);

  auto key = OutboxKey(core::FromUnixMillis(1234), "n1.email");
  auto parts = ParseOutboxKey(key);
  REQUIRE(parts);
  CHECK(core::ToUnixMillis(parts->due) == 1234);
  CHECK(parts->id == "n1.email");
  CHECK(OutboxKey(core::FromUnixMillis(1), "z") < OutboxKey(core::FromUnixMillis(256), "a"));
  CHECK_FALSE(DecodeDeliveryEntry("{\"fv\":99}").ok());
}

TEST_SUITE_END();
}  // namespace
}  // namespace streetwise::notify
