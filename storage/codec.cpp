// JSON is used for values because it is self-describing and debuggable with `ldb`; every value
// carries "fv" (format version) so a later release can migrate or reject unknown formats.
#include "storage/codec.hpp"

#include <boost/json.hpp>

#include <fmt/format.h>

#include "storage/keys.hpp"

namespace streetwise::storage::codec {
namespace json = boost::json;
using core::Error;
using core::Result;

namespace {

constexpr std::int64_t kFormatVersion = keys::kValueFormatVersion;

json::object Header() {
  json::object o;
  o["fv"] = kFormatVersion;
  return o;
}

void PutOpt(json::object& o, std::string_view k, const std::optional<std::string>& v) {
  if (v) o[k] = *v;
}

json::array ToArray(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

// A reader that throws on a missing or mistyped field; decoders catch and turn that into Error.
struct Reader {
  const json::object& o;
  std::string Str(std::string_view k) const { return std::string(o.at(k).as_string()); }
  std::int64_t Int(std::string_view k) const { return o.at(k).to_number<std::int64_t>(); }
  std::optional<std::string> OptStr(std::string_view k) const {
    auto* v = o.if_contains(k);
    if (!v || v->is_null()) return std::nullopt;
    return std::string(v->as_string());
  }
  std::optional<std::int64_t> OptInt(std::string_view k) const {
    auto* v = o.if_contains(k);
    if (!v || v->is_null()) return std::nullopt;
    return v->to_number<std::int64_t>();
  }
  core::TimePoint Time(std::string_view k) const { return core::FromUnixMillis(Int(k)); }
  std::vector<std::string> Strs(std::string_view k) const {
    std::vector<std::string> out;
    for (const auto& v : o.at(k).as_array()) out.emplace_back(v.as_string());
    return out;
  }
};

template <class T, class F>
Result<T> Decode(std::string_view s, std::string_view what, F&& f) {
  try {
    // The DOM only lives while `f` copies fields out: a monotonic arena (4 KiB on the stack, then
    // blocks from the heap) instead of one malloc/free per string, array and object. A thread
    // decode was ~20% of GET /v1/threads/{id}'s CPU, mostly the allocator.
    unsigned char arena[4096];
    json::monotonic_resource mr(arena, sizeof arena);
    json::value v = json::parse(s, &mr);
    const auto& o = v.as_object();
    if (o.at("fv").to_number<std::int64_t>() != kFormatVersion) {
      return Error::Internal(fmt::format("stored {} has unknown format version", what));
    }
    return f(Reader{o});
  } catch (const std::exception& e) {
    return Error::Internal(fmt::format("cannot decode stored {}: {}", what, e.what()));
  }
}

std::int64_t Ms(core::TimePoint t) { return core::ToUnixMillis(t); }

}  // namespace

std::string Encode(const core::Org& v) {
  auto o = Header();
  o["id"] = v.id;
  o["name"] = v.name;
  o["created_at"] = Ms(v.created_at);
  return json::serialize(o);
}

Result<core::Org> DecodeOrg(std::string_view s) {
  return Decode<core::Org>(s, "org", [](const Reader& r) {
    return core::Org{r.Str("id"), r.Str("name"), r.Time("created_at")};
  });
}

std::string Encode(const core::User& v) {
  auto o = Header();
  o["id"] = v.id;
  o["org_id"] = v.org_id;
  o["name"] = v.name;
  PutOpt(o, "email", v.email);
  o["role"] = core::ToString(v.role);
  o["created_at"] = Ms(v.created_at);
  return json::serialize(o);
}

Result<core::User> DecodeUser(std::string_view s) {
  return Decode<core::User>(s, "user", [](const Reader& r) {
    auto role = core::ParseRole(r.Str("role"));
    if (!role) throw std::runtime_error("unknown role");
    return core::User{r.Str("id"), r.Str("org_id"), r.Str("name"), r.OptStr("email"), *role, r.Time("created_at")};
  });
}

std::string Encode(const core::Token& v) {
  auto o = Header();
  o["id"] = v.id;
  o["org_id"] = v.org_id;
  o["user_id"] = v.user_id;
  o["name"] = v.name;
  o["prefix"] = v.prefix;
  o["secret_sha256"] = v.secret_sha256;
  o["created_at"] = Ms(v.created_at);
  if (v.revoked_at) o["revoked_at"] = Ms(*v.revoked_at);
  return json::serialize(o);
}

Result<core::Token> DecodeToken(std::string_view s) {
  return Decode<core::Token>(s, "token", [](const Reader& r) {
    core::Token t{r.Str("id"), r.Str("org_id"), r.Str("user_id"), r.Str("name"), r.Str("prefix"),
                  r.Str("secret_sha256"), r.Time("created_at"), std::nullopt};
    if (auto rv = r.OptInt("revoked_at")) t.revoked_at = core::FromUnixMillis(*rv);
    return t;
  });
}

std::string Encode(const core::Thread& v) {
  auto o = Header();
  o["id"] = v.id;
  o["org_id"] = v.org_id;
  o["title"] = v.title;
  o["body"] = v.body;
  o["body_html"] = v.body_html;
  o["tags"] = ToArray(v.tags);
  o["kind"] = core::ToString(v.kind);
  o["status"] = core::ToString(v.status);
  o["author_id"] = v.author_id;
  PutOpt(o, "account", v.deal.account);
  PutOpt(o, "region", v.deal.region);
  PutOpt(o, "product", v.deal.product);
  PutOpt(o, "needed_by", v.deal.needed_by);
  if (v.deal.deal_value) o["deal_value"] = *v.deal.deal_value;
  o["created_at"] = Ms(v.created_at);
  o["updated_at"] = Ms(v.updated_at);
  o["version"] = v.version;
  o["revision"] = v.revision;
  PutOpt(o, "accepted_answer_id", v.accepted_answer_id);
  if (v.accepted_at) o["accepted_at"] = Ms(*v.accepted_at);
  json::array answers;
  for (const auto& a : v.answers) {
    json::object ao;
    ao["id"] = a.id;
    ao["body"] = a.body;
    ao["body_html"] = a.body_html;
    ao["author_id"] = a.author_id;
    ao["created_at"] = Ms(a.created_at);
    ao["score"] = a.score;
    answers.emplace_back(std::move(ao));
  }
  o["answers"] = std::move(answers);
  json::array comments;
  for (const auto& c : v.comments) {
    json::object co;
    co["id"] = c.id;
    PutOpt(co, "answer_id", c.answer_id);
    co["body"] = c.body;
    co["author_id"] = c.author_id;
    co["created_at"] = Ms(c.created_at);
    comments.emplace_back(std::move(co));
  }
  o["comments"] = std::move(comments);
  return json::serialize(o);
}

Result<core::Thread> DecodeThread(std::string_view s) {
  return Decode<core::Thread>(s, "thread", [](const Reader& r) {
    core::Thread t;
    t.id = r.Str("id");
    t.org_id = r.Str("org_id");
    t.title = r.Str("title");
    t.body = r.Str("body");
    t.body_html = r.Str("body_html");
    t.tags = r.Strs("tags");
    auto kind = core::ParseThreadKind(r.Str("kind"));
    auto status = core::ParseThreadStatus(r.Str("status"));
    if (!kind || !status) throw std::runtime_error("unknown kind or status");
    t.kind = *kind;
    t.status = *status;
    t.author_id = r.Str("author_id");
    t.deal.account = r.OptStr("account");
    t.deal.region = r.OptStr("region");
    t.deal.product = r.OptStr("product");
    t.deal.needed_by = r.OptStr("needed_by");
    if (auto* dv = r.o.if_contains("deal_value")) t.deal.deal_value = dv->to_number<double>();
    t.created_at = r.Time("created_at");
    t.updated_at = r.Time("updated_at");
    t.version = r.Int("version");
    t.revision = r.Int("revision");
    t.accepted_answer_id = r.OptStr("accepted_answer_id");
    if (r.o.contains("accepted_at")) t.accepted_at = r.Time("accepted_at");
    for (const auto& av : r.o.at("answers").as_array()) {
      Reader ar{av.as_object()};
      t.answers.push_back(core::Answer{ar.Str("id"), t.id, ar.Str("body"), ar.Str("body_html"), ar.Str("author_id"),
                                       ar.Time("created_at"), ar.Int("score")});
    }
    for (const auto& cv : r.o.at("comments").as_array()) {
      Reader cr{cv.as_object()};
      t.comments.push_back(core::Comment{cr.Str("id"), t.id, cr.OptStr("answer_id"), cr.Str("body"),
                                         cr.Str("author_id"), cr.Time("created_at")});
    }
    return t;
  });
}

std::string Encode(const core::Revision& v) {
  auto o = Header();
  o["revision"] = v.revision;
  o["title"] = v.title;
  o["body"] = v.body;
  o["tags"] = ToArray(v.tags);
  o["editor_id"] = v.editor_id;
  o["created_at"] = Ms(v.created_at);
  return json::serialize(o);
}

Result<core::Revision> DecodeRevision(std::string_view s) {
  return Decode<core::Revision>(s, "revision", [](const Reader& r) {
    return core::Revision{r.Int("revision"), r.Str("title"), r.Str("body"), r.Strs("tags"), r.Str("editor_id"),
                          r.Time("created_at")};
  });
}

std::string Encode(const core::Event& v) {
  auto o = Header();
  o["seq"] = v.seq;
  o["type"] = core::ToString(v.type);
  o["org_id"] = v.org_id;
  PutOpt(o, "thread_id", v.thread_id);
  PutOpt(o, "answer_id", v.answer_id);
  PutOpt(o, "user_id", v.user_id);
  PutOpt(o, "actor_id", v.actor_id);
  o["at"] = Ms(v.at);
  return json::serialize(o);
}

Result<core::Event> DecodeEvent(std::string_view s) {
  return Decode<core::Event>(s, "event", [](const Reader& r) {
    auto type = core::ParseEventType(r.Str("type"));
    if (!type) throw std::runtime_error("unknown event type");
    return core::Event{static_cast<std::uint64_t>(r.Int("seq")), *type, r.Str("org_id"), r.OptStr("thread_id"),
                       r.OptStr("answer_id"), r.OptStr("user_id"), r.OptStr("actor_id"), r.Time("at")};
  });
}

std::string Encode(const core::Suggestion& v) {
  auto o = Header();
  o["id"] = v.id;
  o["org_id"] = v.org_id;
  o["user_id"] = v.user_id;
  o["thread_ids"] = ToArray(v.thread_ids);
  o["tags"] = ToArray(v.tags);
  o["created_at"] = Ms(v.created_at);
  PutOpt(o, "resolved_thread_id", v.resolved_thread_id);
  return json::serialize(o);
}

Result<core::Suggestion> DecodeSuggestion(std::string_view s) {
  return Decode<core::Suggestion>(s, "suggestion", [](const Reader& r) {
    return core::Suggestion{r.Str("id"),         r.Str("org_id"),        r.Str("user_id"),
                            r.Strs("thread_ids"), r.Strs("tags"),         r.Time("created_at"),
                            r.OptStr("resolved_thread_id")};
  });
}

std::string Encode(const ThreadIndexEntry& v) {
  auto o = Header();
  o["status"] = core::ToString(v.status);
  o["kind"] = core::ToString(v.kind);
  o["author_id"] = v.author_id;
  return json::serialize(o);
}

Result<ThreadIndexEntry> DecodeThreadIndexEntry(std::string_view s) {
  return Decode<ThreadIndexEntry>(s, "thread index entry", [](const Reader& r) {
    auto kind = core::ParseThreadKind(r.Str("kind"));
    auto status = core::ParseThreadStatus(r.Str("status"));
    if (!kind || !status) throw std::runtime_error("unknown kind or status");
    return ThreadIndexEntry{*status, *kind, r.Str("author_id")};
  });
}

}  // namespace streetwise::storage::codec
