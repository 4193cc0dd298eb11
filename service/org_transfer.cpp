#include "service/org_transfer.hpp"

#include <fmt/format.h>

#include <set>

#include "core/crypto.hpp"
#include "core/markdown.hpp"
#include "core/validation.hpp"

namespace streetwise::service {
using core::Error;
using core::ErrorCode;
using core::Result;

namespace {

Error Invalid(const core::Thread& t, std::string_view what) {
  return Error::Make(ErrorCode::kInvalidArgument, fmt::format("thread {}: {}", t.id, what));
}

// The new id for an exported one; CreateOrg guarantees every checked id is in the map.
const std::string& Mapped(const std::map<std::string, std::string>& ids, const std::string& old_id) {
  return ids.at(old_id);
}

}  // namespace

// ---- export ---------------------------------------------------------------------------------

Result<core::Org> OrgTransfer::GetOrg(const std::string& org_id) const { return store_.GetOrg(org_id); }

core::Status OrgTransfer::ForEachUser(const std::string& org_id,
                                      const std::function<bool(const core::User&)>& visit) const {
  return store_.ScanOrgUsers(org_id, visit);
}

core::Status OrgTransfer::ForEachThread(const std::string& org_id,
                                        const std::function<bool(const ExportedThread&)>& visit) const {
  std::optional<Error> err;
  auto st = store_.ScanOrgThreads(org_id, [&](const core::Thread& t) {
    ExportedThread out;
    out.thread = t;
    auto revisions = store_.ListRevisions(org_id, t.id);
    if (!revisions) {
      err = revisions.take_error();
      return false;
    }
    out.revisions = std::move(revisions).value();
    for (const auto& a : t.answers) {
      auto votes = store_.ListVotes(org_id, a.id);
      if (!votes) {
        err = votes.take_error();
        return false;
      }
      if (!votes->empty()) out.votes.emplace(a.id, std::move(votes).value());
    }
    return visit(out);
  });
  if (!st) return st;
  if (err) return *err;
  return core::OkStatus();
}

// ---- import ---------------------------------------------------------------------------------

core::Status OrgTransfer::CheckThread(const ExportedThread& x,
                                      const std::function<bool(const std::string&)>& known_user) {
  const core::Thread& t = x.thread;
  if (t.id.empty()) return Error::Make(ErrorCode::kInvalidArgument, "a thread has no id");
  if (auto title = core::NormaliseTitle(t.title); !title) return Invalid(t, title.error().detail);
  if (auto st = core::CheckBodySize(t.body, core::kMaxBodyBytes, "body", true); !st) {
    return Invalid(t, st.error().detail);
  }
  if (auto tags = core::NormaliseTags(t.tags); !tags) return Invalid(t, tags.error().detail);
  if (t.deal.needed_by && !core::IsValidDate(*t.deal.needed_by)) return Invalid(t, "needed_by is not a date");
  if (t.deal.deal_value && !(*t.deal.deal_value >= 0)) return Invalid(t, "deal_value must be >= 0");
  if (!known_user(t.author_id)) return Invalid(t, fmt::format("author {} is not an exported user", t.author_id));
  std::set<std::string> answers, comments;
  for (const auto& a : t.answers) {
    if (a.id.empty() || !answers.insert(a.id).second) return Invalid(t, "answer ids must be present and unique");
    if (auto st = core::CheckBodySize(a.body, core::kMaxBodyBytes, "answer body", false); !st) {
      return Invalid(t, st.error().detail);
    }
    if (!known_user(a.author_id)) return Invalid(t, fmt::format("answer author {} is not an exported user", a.author_id));
  }
  for (const auto& c : t.comments) {
    if (c.id.empty() || !comments.insert(c.id).second) return Invalid(t, "comment ids must be present and unique");
    if (auto st = core::CheckBodySize(c.body, core::kMaxCommentBytes, "comment body", false); !st) {
      return Invalid(t, st.error().detail);
    }
    if (!known_user(c.author_id)) {
      return Invalid(t, fmt::format("comment author {} is not an exported user", c.author_id));
    }
    if (c.answer_id && !answers.count(*c.answer_id)) {
      return Invalid(t, fmt::format("comment {} refers to answer {}, which is not in the thread", c.id, *c.answer_id));
    }
  }
  if (t.accepted_answer_id && !answers.count(*t.accepted_answer_id)) {
    return Invalid(t, fmt::format("the accepted answer {} is not in the thread", *t.accepted_answer_id));
  }
  for (const auto& r : x.revisions) {
    if (!known_user(r.editor_id)) return Invalid(t, fmt::format("revision editor {} is not an exported user", r.editor_id));
    if (auto title = core::NormaliseTitle(r.title); !title) return Invalid(t, title.error().detail);
    if (auto tags = core::NormaliseTags(r.tags); !tags) return Invalid(t, tags.error().detail);
  }
  for (const auto& [answer_id, votes] : x.votes) {
    if (!answers.count(answer_id)) return Invalid(t, fmt::format("votes on answer {}, which is not in the thread", answer_id));
    std::set<std::string> voters;
    for (const auto& v : votes) {
      if (!known_user(v.user_id)) return Invalid(t, fmt::format("voter {} is not an exported user", v.user_id));
      if (v.value != 1 && v.value != -1) return Invalid(t, "a vote must be 1 or -1");
      if (!voters.insert(v.user_id).second) return Invalid(t, "a user voted twice on one answer");
    }
  }
  return core::OkStatus();
}

Result<ImportedOrg> OrgTransfer::CreateOrg(const std::string& name, const std::vector<core::User>& users) {
  if (core::Trim(name).empty()) return Error::Make(ErrorCode::kInvalidArgument, "the organisation has no name");
  auto now = clock_.Now();
  ImportedOrg out;
  out.org = core::Org{core::NewId("o", now), std::string(core::Trim(name)), now};
  storage::Mutation m;
  m.PutOrg(out.org);
  core::Event e;
  e.type = core::EventType::kOrgCreated;
  e.org_id = out.org.id;
  e.at = now;
  m.AddEvent(e);
  std::optional<core::User> admin;
  auto add_user = [&](core::User u) {
    m.PutUser(u);
    core::Event ue = e;
    ue.type = core::EventType::kUserCreated;
    ue.user_id = u.id;
    m.AddEvent(ue);
    if (!admin && u.role == core::Role::kAdmin) admin = u;
  };
  for (const auto& source : users) {
    if (source.id.empty() || out.user_ids.count(source.id)) {
      return Error::Make(ErrorCode::kInvalidArgument, fmt::format("user id '{}' is empty or repeated", source.id));
    }
    if (core::Trim(source.name).empty()) {
      return Error::Make(ErrorCode::kInvalidArgument, fmt::format("user {} has no name", source.id));
    }
    core::User u = source;
    u.id = core::NewId("u", source.created_at);
    u.org_id = out.org.id;
    out.user_ids.emplace(source.id, u.id);
    add_user(std::move(u));
  }
  if (!admin) add_user(core::User{core::NewId("u", now), out.org.id, "Administrator", std::nullopt, core::Role::kAdmin, now});
  out.admin = *admin;
  AccountService accounts(store_, clock_);
  out.token = accounts.MakeToken(out.admin, "import admin token");
  m.PutToken(out.token.token);
  core::Event te = e;
  te.type = core::EventType::kTokenCreated;
  te.user_id = out.admin.id;
  m.AddEvent(te);
  auto seq = store_.Commit(std::move(m));
  if (!seq) return seq.take_error();
  return out;
}

Result<Written<core::Thread>> OrgTransfer::ImportThread(const ImportedOrg& target, const ExportedThread& source) {
  const auto& users = target.user_ids;
  if (auto st = CheckThread(source, [&](const std::string& id) { return users.count(id) > 0; }); !st) {
    return st.take_error();
  }
  const core::Thread& from = source.thread;
  auto now = clock_.Now();
  core::Thread t = from;
  t.id = core::NewId("t", from.created_at);
  t.org_id = target.org.id;
  t.title = core::NormaliseTitle(from.title).value();
  t.body_html = core::RenderMarkdown(t.body);
  t.tags = core::NormaliseTags(from.tags).value();
  t.author_id = Mapped(users, from.author_id);
  std::map<std::string, std::string> answer_ids;
  for (auto& a : t.answers) {
    std::string old_id = a.id;
    a.id = core::NewId("a", a.created_at);
    a.thread_id = t.id;
    a.body_html = core::RenderMarkdown(a.body);
    a.author_id = Mapped(users, a.author_id);
    if (auto v = source.votes.find(old_id); v != source.votes.end()) {
      a.score = 0;
      for (const auto& vote : v->second) a.score += vote.value;
    }
    answer_ids.emplace(std::move(old_id), a.id);
  }
  for (auto& c : t.comments) {
    c.id = core::NewId("c", c.created_at);
    c.thread_id = t.id;
    c.author_id = Mapped(users, c.author_id);
    if (c.answer_id) c.answer_id = answer_ids.at(*c.answer_id);
  }
  if (t.accepted_answer_id) t.accepted_answer_id = answer_ids.at(*t.accepted_answer_id);

  storage::Mutation m;
  m.PutThread(t, nullptr);
  if (source.revisions.empty()) {
    m.PutRevision(t.org_id, t.id, core::Revision{t.revision, t.title, t.body, t.tags, t.author_id, t.created_at});
  }
  for (const auto& r : source.revisions) {
    core::Revision rev = r;
    rev.title = core::NormaliseTitle(r.title).value();
    rev.tags = core::NormaliseTags(r.tags).value();
    rev.editor_id = Mapped(users, r.editor_id);
    m.PutRevision(t.org_id, t.id, rev);
  }
  for (const auto& a : t.answers) m.PutAnswerLocator(t.org_id, a.id, t.id);
  for (const auto& [old_answer, votes] : source.votes) {
    for (const auto& v : votes) m.PutVote(t.org_id, answer_ids.at(old_answer), Mapped(users, v.user_id), v.value);
  }
  // Events are stamped with the import time: the change log records when content arrived in this
  // store; the original times stay in the thread itself.
  auto event = [&](core::EventType type, const std::string& actor, const std::optional<std::string>& answer_id) {
    core::Event e;
    e.type = type;
    e.org_id = t.org_id;
    e.thread_id = t.id;
    e.answer_id = answer_id;
    e.actor_id = actor;
    e.at = now;
    m.AddEvent(std::move(e));
  };
  event(core::EventType::kThreadCreated, t.author_id, std::nullopt);
  for (const auto& a : t.answers) event(core::EventType::kAnswerCreated, a.author_id, a.id);
  for (const auto& c : t.comments) event(core::EventType::kCommentCreated, c.author_id, c.answer_id);
  auto seq = store_.Commit(std::move(m));
  if (!seq) return seq.take_error();
  return Written<core::Thread>{std::move(t), *seq};
}

}  // namespace streetwise::service
