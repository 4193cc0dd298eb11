#include "api/representation.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

namespace streetwise::api::repr {
namespace json = boost::json;

namespace {

// `sp` (here and below): where the values allocate; a whole representation shares one (see Thread).
json::value Opt(const std::optional<std::string>& v, json::storage_ptr sp = {}) {
  return v ? json::value(*v, std::move(sp)) : json::value(nullptr, std::move(sp));
}
json::string Time(core::TimePoint t, json::storage_ptr sp = {}) {
  return json::string(core::FormatRfc3339(t), std::move(sp));
}

json::array Tags(const std::vector<std::string>& tags, json::storage_ptr sp = {}) {
  json::array a(std::move(sp));
  for (const auto& t : tags) a.emplace_back(t);
  return a;
}

void SummaryFields(json::object& o, const core::Thread& t) {
  const json::storage_ptr& sp = o.storage();
  o["id"] = t.id;
  o["title"] = t.title;
  o["tags"] = Tags(t.tags, sp);
  o["kind"] = core::ToString(t.kind);
  o["status"] = core::ToString(t.status);
  o["author_id"] = t.author_id;
  o["account"] = Opt(t.deal.account, sp);
  o["region"] = Opt(t.deal.region, sp);
  o["product"] = Opt(t.deal.product, sp);
  o["needed_by"] = Opt(t.deal.needed_by, sp);
  o["deal_value"] = t.deal.deal_value ? json::value(*t.deal.deal_value) : json::value(nullptr);
  o["created_at"] = Time(t.created_at, sp);
  o["updated_at"] = Time(t.updated_at, sp);
  o["version"] = t.version;
  o["revision"] = t.revision;
  o["answer_count"] = static_cast<std::int64_t>(t.answers.size());
  o["accepted_answer_id"] = Opt(t.accepted_answer_id, sp);
}

}  // namespace

json::object Org(const core::Org& org) {
  return json::object{{"id", org.id}, {"name", org.name}, {"created_at", Time(org.created_at)}};
}

json::object User(const core::User& u) {
  return json::object{{"id", u.id},
                      {"name", u.name},
                      {"email", Opt(u.email)},
                      {"role", core::ToString(u.role)},
                      {"created_at", Time(u.created_at)}};
}

json::object Token(const core::Token& t) {
  return json::object{{"id", t.id},
                      {"user_id", t.user_id},
                      {"name", t.name},
                      {"prefix", t.prefix},
                      {"created_at", Time(t.created_at)},
                      {"revoked_at", t.revoked_at ? json::value(Time(*t.revoked_at)) : json::value(nullptr)}};
}

json::object NewToken(const service::IssuedToken& issued) {
  auto o = Token(issued.token);
  o["token"] = issued.secret;
  return o;
}

json::object Answer(const core::Thread& thread, const core::Answer& a, json::storage_ptr sp) {
  return json::object({{"id", a.id},
                       {"thread_id", thread.id},
                       {"body", a.body},
                       {"body_html", a.body_html},
                       {"author_id", a.author_id},
                       {"created_at", Time(a.created_at, sp)},
                       {"score", a.score},
                       {"accepted", thread.accepted_answer_id == a.id}},
                      sp);
}

json::object Comment(const core::Comment& c, json::storage_ptr sp) {
  return json::object({{"id", c.id},
                       {"thread_id", c.thread_id},
                       {"answer_id", Opt(c.answer_id, sp)},
                       {"body", c.body},
                       {"author_id", c.author_id},
                       {"created_at", Time(c.created_at, sp)}},
                      sp);
}

json::object Thread(const core::Thread& t, json::storage_ptr sp) {
  json::object o(sp);
  SummaryFields(o, t);
  o["body"] = t.body;
  o["body_html"] = t.body_html;
  json::array answers(sp);
  for (const auto& a : t.answers) answers.emplace_back(Answer(t, a, sp));
  o["answers"] = std::move(answers);
  json::array comments(sp);
  for (const auto& c : t.comments) comments.emplace_back(Comment(c, sp));
  o["comments"] = std::move(comments);
  return o;
}

std::string ThreadBody(const core::Thread& t) {
  // The DOM only lives until it is serialised: build it in an arena (16 KiB on the stack, then
  // heap blocks) instead of one malloc/free per member. Rendering was ~20% of an uncached GET.
  unsigned char arena[16384];
  json::monotonic_resource mr(arena, sizeof arena);
  return json::serialize(Thread(t, &mr));
}

json::object ThreadSummary(const core::Thread& t) {
  json::object o;
  SummaryFields(o, t);
  return o;
}

json::object Revision(const core::Revision& r) {
  return json::object{{"revision", r.revision},
                      {"title", r.title},
                      {"body", r.body},
                      {"tags", Tags(r.tags)},
                      {"editor_id", r.editor_id},
                      {"created_at", Time(r.created_at)}};
}

json::object TagCount(const storage::TagCount& tc) { return json::object{{"tag", tc.tag}, {"count", tc.count}}; }

json::object Event(const core::Event& e) {
  return json::object{{"seq", e.seq},
                      {"type", core::ToString(e.type)},
                      {"org_id", e.org_id},
                      {"thread_id", Opt(e.thread_id)},
                      {"answer_id", Opt(e.answer_id)},
                      {"user_id", Opt(e.user_id)},
                      {"actor_id", Opt(e.actor_id)},
                      {"at", Time(e.at)}};
}

json::object SearchHit(const indexer::SearchHit& h) {
  return json::object{{"thread_id", h.thread_id},
                      {"title", h.title},
                      {"snippet", h.snippet},
                      {"tags", Tags(h.tags)},
                      {"kind", h.kind},
                      {"status", h.status},
                      {"answer_count", h.answer_count},
                      {"accepted", h.accepted},
                      {"score", h.score},
                      {"created_at", Time(h.created_at)}};
}

std::string ThreadETag(const core::Thread& t) { return ThreadETag(t.version); }
std::string ThreadETag(std::int64_t version) { return fmt::format("\"v{}\"", version); }

}  // namespace streetwise::api::repr
