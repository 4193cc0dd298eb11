#include "service/thread_service.hpp"

#include <fmt/format.h>

#include "core/crypto.hpp"
#include "core/markdown.hpp"
#include "core/thread_policy.hpp"
#include "core/validation.hpp"

namespace streetwise::service {
using core::Error;
using core::ErrorCode;
using core::Result;

namespace {

// Domain checks that JSON Schema cannot express (bytes vs characters, tag grammar, dates).
core::Status ValidateDeal(const core::DealContext& d) {
  if (d.needed_by && !core::IsValidDate(*d.needed_by)) {
    Error e = Error::Make(ErrorCode::kInvalidArgument,
                          fmt::format("needed_by '{}' is not a calendar date YYYY-MM-DD", *d.needed_by));
    e.fields.push_back({"#/needed_by", e.detail});
    return e;
  }
  if (d.deal_value && !(*d.deal_value >= 0)) {
    Error e = Error::Make(ErrorCode::kInvalidArgument, "deal_value must be a number >= 0");
    e.fields.push_back({"#/deal_value", e.detail});
    return e;
  }
  return core::OkStatus();
}

core::Revision MakeRevision(const core::Thread& t, const std::string& editor, core::TimePoint at) {
  return core::Revision{t.revision, t.title, t.body, t.tags, editor, at};
}

}  // namespace

void ThreadService::InvalidateCached(const Caller& caller, const std::string& thread_id) const {
  std::string key = caller.org_id() + "/" + thread_id;
  // threads_ first: GetRendered may render from threads_, and a rendering made from a stale
  // threads_ entry before this point is then still dropped by rendered_'s invalidation.
  threads_.Invalidate(key);
  rendered_.Invalidate(key);
}

std::mutex& ThreadService::LockFor(const std::string& thread_id) {
  return stripes_[std::hash<std::string>{}(thread_id) % stripes_.size()];
}

core::Event ThreadService::MakeEvent(core::EventType type, const Caller& caller, const core::Thread& t) const {
  core::Event e;
  e.type = type;
  e.org_id = caller.org_id();
  e.thread_id = t.id;
  e.actor_id = caller.user.id;
  e.at = t.updated_at;
  return e;
}

Result<core::Thread> ThreadService::NewThread(const Caller& caller, const NewThreadInput& input,
                                              core::TimePoint now) const {
  auto title = core::NormaliseTitle(input.title);
  if (!title) return title.take_error();
  if (auto st = core::CheckBodySize(input.body, core::kMaxBodyBytes, "body", true); !st) return st.take_error();
  auto tags = core::NormaliseTags(input.tags);
  if (!tags) return tags.take_error();
  if (auto st = ValidateDeal(input.deal); !st) return st.take_error();
  core::Thread t;
  t.id = core::NewId("t", now);
  t.org_id = caller.org_id();
  t.title = std::move(title).value();
  t.body = input.body;
  t.body_html = core::RenderMarkdown(t.body);
  t.tags = std::move(tags).value();
  t.kind = input.kind;
  t.author_id = caller.user.id;
  t.deal = input.deal;
  t.created_at = t.updated_at = now;
  return t;
}

Result<Written<core::Thread>> ThreadService::Create(const Caller& caller, const NewThreadInput& input,
                                                    const std::optional<IdempotencyIntent>& idempotency) {
  auto now = clock_.Now();
  auto made = NewThread(caller, input, now);
  if (!made) return made.take_error();
  core::Thread& t = *made;
  storage::Mutation m;
  m.PutThread(t, nullptr);
  m.PutRevision(t.org_id, t.id, MakeRevision(t, caller.user.id, now));
  m.AddEvent(MakeEvent(core::EventType::kThreadCreated, caller, t));
  if (idempotency) {
    storage::IdempotencyRecord rec{idempotency->fingerprint, 201, idempotency->render_body(t),
                                   fmt::format("/v1/threads/{}", t.id), now};
    m.PutIdempotency(t.org_id, caller.user.id, idempotency->key_hash, rec);
  }
  auto seq = store_.Commit(std::move(m));
  if (!seq) return seq.take_error();
  return Written<core::Thread>{std::move(t), *seq};
}

Result<Written<core::Thread>> ThreadService::Import(const Caller& caller, const NewThreadInput& input,
                                                    const std::vector<std::string>& answers,
                                                    std::optional<std::size_t> accepted) {
  auto now = clock_.Now();
  auto made = NewThread(caller, input, now);
  if (!made) return made.take_error();
  core::Thread& t = *made;
  storage::Mutation m;
  m.PutRevision(t.org_id, t.id, MakeRevision(t, caller.user.id, now));
  m.AddEvent(MakeEvent(core::EventType::kThreadCreated, caller, t));
  for (const auto& body : answers) {
    if (auto st = core::CheckBodySize(body, core::kMaxBodyBytes, "body", false); !st) return st.take_error();
    core::Answer a{core::NewId("a", now), t.id, body, core::RenderMarkdown(body), caller.user.id, now, 0};
    m.PutAnswerLocator(t.org_id, a.id, t.id);
    auto e = MakeEvent(core::EventType::kAnswerCreated, caller, t);
    e.answer_id = a.id;
    m.AddEvent(e);
    t.answers.push_back(std::move(a));
  }
  if (accepted && *accepted < t.answers.size()) {
    t.accepted_answer_id = t.answers[*accepted].id;
    t.accepted_at = now;
  }
  t.status = core::DerivedStatus(t);
  m.PutThread(t, nullptr);
  auto seq = store_.Commit(std::move(m));
  if (!seq) return seq.take_error();
  return Written<core::Thread>{std::move(t), *seq};
}

Result<std::optional<storage::IdempotencyRecord>> ThreadService::FindIdempotent(const Caller& caller,
                                                                               const std::string& key_hash) const {
  return store_.GetIdempotency(caller.org_id(), caller.user.id, key_hash);
}

Result<core::Thread> ThreadService::Get(const Caller& caller, const std::string& thread_id) const {
  std::string key = caller.org_id() + "/" + thread_id;
  if (auto cached = threads_.Find(key)) return *cached;
  auto epoch = threads_.Epoch(key);
  auto t = store_.GetThread(caller.org_id(), thread_id);
  if (!t) return t;
  auto shared = std::make_shared<const core::Thread>(std::move(t).value());
  threads_.Insert(std::move(key), shared, epoch);
  return *shared;
}

Result<std::shared_ptr<const RenderedThread>> ThreadService::GetRendered(const Caller& caller,
                                                                         const std::string& thread_id,
                                                                         ThreadRenderer render) const {
  ThreadRenderer expected = nullptr;
  bool memoise = renderer_.compare_exchange_strong(expected, render) || expected == render;
  std::string key = caller.org_id() + "/" + thread_id;
  if (memoise) {
    if (auto cached = rendered_.Find(key)) return cached;
  }
  // The epoch is taken before the thread is read (from the thread cache or the store), so a
  // rendering of a thread that changes meanwhile is not memoised.
  auto epoch = rendered_.Epoch(key);
  std::shared_ptr<const RenderedThread> out;
  if (auto cached = threads_.Find(key)) {
    out = std::make_shared<const RenderedThread>(RenderedThread{cached->version, render(*cached)});
  } else {
    // Not put into threads_: a scan over many threads would only churn it, and the rendering is
    // what the next read of this thread needs.
    auto t = store_.GetThread(caller.org_id(), thread_id);
    if (!t) return t.take_error();
    out = std::make_shared<const RenderedThread>(RenderedThread{t->version, render(*t)});
  }
  if (memoise) {
    // Charge: the body, the key (held twice) and the entry, index node and shared_ptr block.
    std::size_t charge = out->body.size() + 2 * key.size() + 200;
    rendered_.Insert(std::move(key), out, epoch, charge);
  }
  return out;
}

Result<storage::Page<core::Thread>> ThreadService::List(const Caller& caller, const storage::ThreadFilter& filter,
                                                        const std::optional<std::string>& after,
                                                        std::size_t limit) const {
  return store_.ListThreads(caller.org_id(), filter, after, limit);
}

Result<Written<core::Thread>> ThreadService::Patch(const Caller& caller, const std::string& thread_id,
                                                   const ThreadPatchInput& patch, std::int64_t expected_version) {
  std::optional<std::string> title;
  if (patch.title) {
    auto t = core::NormaliseTitle(*patch.title);
    if (!t) return t.take_error();
    title = std::move(t).value();
  }
  if (patch.body) {
    if (auto st = core::CheckBodySize(*patch.body, core::kMaxBodyBytes, "body", true); !st) return st.take_error();
  }
  std::optional<std::vector<std::string>> tags;
  if (patch.tags) {
    auto t = core::NormaliseTags(*patch.tags);
    if (!t) return t.take_error();
    tags = std::move(t).value();
  }

  std::lock_guard lock(LockFor(thread_id));
  auto current = store_.GetThread(caller.org_id(), thread_id);
  if (!current) return current.take_error();
  const core::Thread& before = *current;
  bool edits_content = title || patch.body || tags;
  if (edits_content && !core::CanEditThread(caller.user, before)) {
    return Error::Make(ErrorCode::kForbidden, "only the thread's author or an admin can edit it");
  }
  if (patch.status && !core::CanChangeStatus(caller.user)) {
    return Error::Make(ErrorCode::kForbidden, "only admins can close or reopen a thread");
  }
  if (before.version != expected_version) {
    return Error::Make(ErrorCode::kPreconditionFailed,
                       fmt::format("the thread changed since you read it (now version {}, If-Match had {}); "
                                   "fetch it again and reapply your edit",
                                   before.version, expected_version));
  }
  auto now = clock_.Now();
  core::Thread after = before;
  storage::Mutation m;
  bool content_changed = (title && *title != before.title) || (patch.body && *patch.body != before.body) ||
                         (tags && *tags != before.tags);
  if (content_changed) {
    if (title) after.title = *title;
    if (patch.body) {
      after.body = *patch.body;
      after.body_html = core::RenderMarkdown(after.body);
    }
    if (tags) after.tags = *tags;
    after.revision += 1;
    m.PutRevision(after.org_id, after.id, MakeRevision(after, caller.user.id, now));
  }
  bool status_changed = false;
  if (patch.status) {
    core::ThreadStatus target =
        *patch.status == core::ThreadStatus::kClosed ? core::ThreadStatus::kClosed : core::DerivedStatus(after);
    if (*patch.status != core::ThreadStatus::kClosed && *patch.status != core::ThreadStatus::kOpen) {
      Error e = Error::Make(ErrorCode::kInvalidArgument, "status can only be set to 'closed' or 'open' (reopen)");
      e.fields.push_back({"#/status", e.detail});
      return e;
    }
    status_changed = target != after.status;
    after.status = target;
  }
  if (!content_changed && !status_changed) return Written<core::Thread>{std::move(after), store_.VisibleHead()};
  after.version += 1;
  after.updated_at = now;
  m.PutThread(after, &before);
  if (content_changed) m.AddEvent(MakeEvent(core::EventType::kThreadEdited, caller, after));
  if (status_changed) m.AddEvent(MakeEvent(core::EventType::kThreadStatusChanged, caller, after));
  auto seq = store_.Commit(std::move(m));
  InvalidateCached(caller, thread_id);
  if (!seq) return seq.take_error();
  return Written<core::Thread>{std::move(after), *seq};
}

Result<Written<core::Thread>> ThreadService::Delete(const Caller& caller, const std::string& thread_id) {
  std::lock_guard lock(LockFor(thread_id));
  auto current = store_.GetThread(caller.org_id(), thread_id);
  if (!current) return current.take_error();
  if (!core::CanEditThread(caller.user, *current)) {
    return Error::Make(ErrorCode::kForbidden, "only the thread's author or an admin can delete it");
  }
  storage::Mutation m;
  m.DeleteThread(*current);
  auto e = MakeEvent(core::EventType::kThreadDeleted, caller, *current);
  e.at = clock_.Now();
  m.AddEvent(e);
  auto seq = store_.Commit(std::move(m));
  InvalidateCached(caller, thread_id);
  if (!seq) return seq.take_error();
  return Written<core::Thread>{std::move(current).value(), *seq};
}

Result<std::vector<core::Revision>> ThreadService::Revisions(const Caller& caller,
                                                             const std::string& thread_id) const {
  auto t = store_.GetThread(caller.org_id(), thread_id);
  if (!t) return t.take_error();
  return store_.ListRevisions(caller.org_id(), thread_id);
}

Result<Written<core::Answer>> ThreadService::AddAnswer(const Caller& caller, const std::string& thread_id,
                                                       const std::string& body) {
  if (auto st = core::CheckBodySize(body, core::kMaxBodyBytes, "body", false); !st) return st.take_error();
  std::lock_guard lock(LockFor(thread_id));
  auto current = store_.GetThread(caller.org_id(), thread_id);
  if (!current) return current.take_error();
  if (auto st = core::CheckAcceptsContributions(*current); !st) return st.take_error();
  auto now = clock_.Now();
  core::Thread after = *current;
  core::Answer a{core::NewId("a", now), thread_id, body, core::RenderMarkdown(body), caller.user.id, now, 0};
  after.answers.push_back(a);
  after.status = core::DerivedStatus(after);
  after.version += 1;
  after.updated_at = now;
  storage::Mutation m;
  m.PutThread(after, &*current);
  m.PutAnswerLocator(after.org_id, a.id, thread_id);
  auto e = MakeEvent(core::EventType::kAnswerCreated, caller, after);
  e.answer_id = a.id;
  m.AddEvent(e);
  if (after.status != current->status) m.AddEvent(MakeEvent(core::EventType::kThreadStatusChanged, caller, after));
  auto seq = store_.Commit(std::move(m));
  InvalidateCached(caller, thread_id);
  if (!seq) return seq.take_error();
  return Written<core::Answer>{std::move(a), *seq};
}

Result<Written<core::Comment>> ThreadService::AddComment(const Caller& caller, const std::string& thread_id,
                                                         const std::string& body,
                                                         const std::optional<std::string>& answer_id) {
  if (auto st = core::CheckBodySize(body, core::kMaxCommentBytes, "body", false); !st) return st.take_error();
  std::lock_guard lock(LockFor(thread_id));
  auto current = store_.GetThread(caller.org_id(), thread_id);
  if (!current) return current.take_error();
  if (auto st = core::CheckAcceptsContributions(*current); !st) return st.take_error();
  if (answer_id && !current->FindAnswer(*answer_id)) {
    Error e = Error::Make(ErrorCode::kInvalidArgument, "answer_id is not an answer of this thread");
    e.fields.push_back({"#/answer_id", e.detail});
    return e;
  }
  auto now = clock_.Now();
  core::Thread after = *current;
  core::Comment c{core::NewId("c", now), thread_id, answer_id, body, caller.user.id, now};
  after.comments.push_back(c);
  after.version += 1;
  after.updated_at = now;
  storage::Mutation m;
  m.PutThread(after, &*current);
  auto e = MakeEvent(core::EventType::kCommentCreated, caller, after);
  e.answer_id = answer_id;
  m.AddEvent(e);
  auto seq = store_.Commit(std::move(m));
  InvalidateCached(caller, thread_id);
  if (!seq) return seq.take_error();
  return Written<core::Comment>{std::move(c), *seq};
}

Result<Written<core::Thread>> ThreadService::Accept(const Caller& caller, const std::string& thread_id,
                                                    const std::optional<std::string>& answer_id) {
  std::lock_guard lock(LockFor(thread_id));
  auto current = store_.GetThread(caller.org_id(), thread_id);
  if (!current) return current.take_error();
  if (!core::CanAcceptAnswer(caller.user, *current)) {
    return Error::Make(ErrorCode::kForbidden, "only the thread's author or an admin can accept an answer");
  }
  if (auto st = core::CheckAcceptsContributions(*current); !st) return st.take_error();
  if (answer_id && !current->FindAnswer(*answer_id)) {
    Error e = Error::Make(ErrorCode::kInvalidArgument, "answer_id is not an answer of this thread");
    e.fields.push_back({"#/answer_id", e.detail});
    return e;
  }
  if (current->accepted_answer_id == answer_id) return Written<core::Thread>{std::move(current).value(), store_.VisibleHead()};
  core::Thread after = *current;
  after.accepted_answer_id = answer_id;
  after.status = core::DerivedStatus(after);
  after.version += 1;
  after.updated_at = clock_.Now();
  after.accepted_at = answer_id ? std::optional<core::TimePoint>(after.updated_at) : std::nullopt;
  storage::Mutation m;
  m.PutThread(after, &*current);
  auto e = MakeEvent(core::EventType::kAnswerAccepted, caller, after);
  e.answer_id = answer_id;
  m.AddEvent(e);
  if (after.status != current->status) m.AddEvent(MakeEvent(core::EventType::kThreadStatusChanged, caller, after));
  auto seq = store_.Commit(std::move(m));
  InvalidateCached(caller, thread_id);
  if (!seq) return seq.take_error();
  return Written<core::Thread>{std::move(after), *seq};
}

Result<Written<core::Answer>> ThreadService::Vote(const Caller& caller, const std::string& answer_id, int value) {
  if (value < -1 || value > 1) {
    Error e = Error::Make(ErrorCode::kInvalidArgument, "value must be -1, 0 or 1");
    e.fields.push_back({"#/value", e.detail});
    return e;
  }
  auto thread_id = store_.FindAnswerThread(caller.org_id(), answer_id);
  if (!thread_id) return thread_id.take_error();
  std::lock_guard lock(LockFor(*thread_id));
  auto current = store_.GetThread(caller.org_id(), *thread_id);
  if (!current) return current.take_error();
  const core::Answer* answer = current->FindAnswer(answer_id);
  if (!answer) return Error::Make(ErrorCode::kNotFound, "answer not found");
  if (answer->author_id == caller.user.id) return Error::Make(ErrorCode::kForbidden, "you cannot vote on your own answer");
  auto previous = store_.GetVote(caller.org_id(), answer_id, caller.user.id);
  if (!previous) return previous.take_error();
  if (*previous == value) return Written<core::Answer>{*answer, store_.VisibleHead()};
  core::Thread after = *current;
  core::Answer* a = after.FindAnswer(answer_id);
  a->score += value - *previous;
  after.version += 1;
  after.updated_at = clock_.Now();
  storage::Mutation m;
  m.PutThread(after, &*current);
  m.PutVote(caller.org_id(), answer_id, caller.user.id, value);
  auto e = MakeEvent(core::EventType::kAnswerVoted, caller, after);
  e.answer_id = answer_id;
  m.AddEvent(e);
  auto seq = store_.Commit(std::move(m));
  InvalidateCached(caller, *thread_id);
  if (!seq) return seq.take_error();
  return Written<core::Answer>{*a, *seq};
}

Result<storage::Page<storage::TagCount>> ThreadService::Tags(const Caller& caller,
                                                             const std::optional<std::string>& after,
                                                             std::size_t limit) const {
  return store_.ListTags(caller.org_id(), after, limit);
}

Result<std::vector<core::Event>> ThreadService::Events(const Caller& caller, std::uint64_t after,
                                                       std::size_t limit) const {
  if (caller.user.role != core::Role::kAdmin) {
    return Error::Make(ErrorCode::kForbidden, "only admins can read the event feed");
  }
  return store_.ListOrgEvents(caller.org_id(), after, limit);
}

}  // namespace streetwise::service
