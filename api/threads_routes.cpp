// Threads, answers, comments, acceptance, votes and tags.
#include <fmt/format.h>

#include <charconv>

#include "api/representation.hpp"
#include "api/route_context.hpp"
#include "core/clock.hpp"
#include "core/crypto.hpp"
#include "core/cursor.hpp"
#include "core/validation.hpp"
#include "service/search_service.hpp"

#include <algorithm>

namespace streetwise::api {
using core::Error;
using core::ErrorCode;
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr std::int64_t kIdempotencyTtlMs = 24 * 3600 * 1000;

std::vector<std::string> Strings(const json::object& o, std::string_view key) {
  std::vector<std::string> out;
  if (auto* v = o.if_contains(key); v && v->is_array()) {
    for (const auto& s : v->get_array()) {
      if (s.is_string()) out.emplace_back(s.get_string());
    }
  }
  return out;
}

// Parses the Idempotency-Key header (RFC 8941 string, or the bare token Stripe clients send).
core::Result<std::optional<std::string>> IdempotencyKey(const Call& call) {
  auto raw = call.req.Header("idempotency-key");
  if (!raw) return std::optional<std::string>();
  std::string_view k = *raw;
  if (k.size() >= 2 && k.front() == '"' && k.back() == '"') k = k.substr(1, k.size() - 2);
  bool printable = std::all_of(k.begin(), k.end(), [](char c) { return c > 0x20 && c < 0x7f; });
  if (k.empty() || k.size() > 255 || !printable) {
    return Error::Make(ErrorCode::kMalformed, "Idempotency-Key must be 1 to 255 printable ASCII characters");
  }
  return std::optional<std::string>(std::string(k));
}

// Holds an org/user/key slot for the duration of a create so a concurrent retry gets 409.
class InFlightGuard {
 public:
  InFlightGuard(Ctx& ctx, std::string slot) : ctx_(ctx), slot_(std::move(slot)) {
    std::lock_guard lock(ctx_.idempotency_mu);
    acquired_ = ctx_.idempotency_in_flight.insert(slot_).second;
  }
  ~InFlightGuard() {
    if (!acquired_) return;
    std::lock_guard lock(ctx_.idempotency_mu);
    ctx_.idempotency_in_flight.erase(slot_);
  }
  bool acquired() const { return acquired_; }

 private:
  Ctx& ctx_;
  std::string slot_;
  bool acquired_ = false;
};

Response ThreadResponse(int status, const core::Thread& t) {
  Response r = Ctx::Json(status, repr::Thread(t));
  r.With("ETag", repr::ThreadETag(t));
  return r;
}

asio::awaitable<Response> CreateThread(Ctx& ctx, Call& call) {
  auto key = IdempotencyKey(call);
  if (!key) co_return ctx.Problem(call, key.error());
  auto body = ctx.Body(call, "NewThread");
  if (!body) co_return ctx.Problem(call, body.error());
  const auto& o = body->as_object();
  service::NewThreadInput in;
  in.title = std::string(o.at("title").as_string());
  in.body = OptString(o, "body").value_or("");
  in.tags = Strings(o, "tags");
  if (auto kind = OptString(o, "kind")) in.kind = core::ParseThreadKind(*kind).value_or(core::ThreadKind::kQuestion);
  in.deal.account = OptString(o, "account");
  in.deal.region = OptString(o, "region");
  in.deal.product = OptString(o, "product");
  in.deal.needed_by = OptString(o, "needed_by");
  if (auto* dv = o.if_contains("deal_value"); dv && dv->is_number()) in.deal.deal_value = dv->to_number<double>();

  const auto& caller = call.Who();
  std::optional<service::IdempotencyIntent> intent;
  std::optional<InFlightGuard> guard;
  if (*key) {
    std::string key_hash = core::Sha256Hex(**key);
    guard.emplace(ctx, fmt::format("{}/{}/{}", caller.org_id(), caller.user.id, key_hash));
    if (!guard->acquired()) {
      co_return ctx.Problem(call, Error::Make(ErrorCode::kConflict,
                                              "a request with this Idempotency-Key is still being processed"));
    }
    std::string fingerprint = core::Sha256Hex(call.req.body);
    auto existing = ctx.deps.threads->FindIdempotent(caller, key_hash);
    if (!existing) co_return ctx.Problem(call, existing.error());
    auto now = core::SystemClock().Now();
    if (*existing && core::ToUnixMillis(now) - core::ToUnixMillis((*existing)->created_at) < kIdempotencyTtlMs) {
      const auto& rec = **existing;
      if (rec.fingerprint != fingerprint) {
        co_return ctx.Problem(call, Error::Make(ErrorCode::kIdempotencyKeyReused,
                                                "this Idempotency-Key was used with a different request body"));
      }
      Response r;
      r.status = rec.status;
      r.body = rec.body;
      r.With("Location", rec.location);
      r.With("ETag", "\"v1\"");  // the replayed body is the thread as created: version 1
      r.With("Idempotent-Replayed", "true");
      // The original seq is not stored; the current head is >= it, so read-your-writes still holds.
      co_return WithSeq(std::move(r), ctx.deps.threads->HeadSeq());
    }
    intent = service::IdempotencyIntent{key_hash, fingerprint,
                                        [](const core::Thread& t) { return json::serialize(repr::Thread(t)); }};
  }
  auto created = co_await ctx.deps.pool->Run([&] { return ctx.deps.threads->Create(caller, in, intent); });
  if (!created) co_return ctx.Problem(call, created.error());
  Response r = ThreadResponse(201, created->value);
  if (ctx.deps.search) {
    // Show the asker what the archive already has; a search failure must not fail the write.
    auto similar = co_await ctx.deps.pool->Run([&] { return ctx.deps.search->SimilarTo(caller, created->value, 5); });
    json::array items;
    if (similar) {
      for (const auto& h : *similar) items.emplace_back(repr::SearchHit(h));
    }
    auto body = repr::Thread(created->value);
    body["similar"] = std::move(items);
    r.body = json::serialize(body);
  }
  r.With("Location", fmt::format("/v1/threads/{}", created->value.id));
  co_return WithSeq(std::move(r), created->seq);
}

// The body comes from ThreadService's memo (rendered once per thread version).
asio::awaitable<Response> GetThread(Ctx& ctx, Call& call) {
  auto t = ctx.deps.threads->GetRendered(call.Who(), call.params[0], &repr::ThreadBody);
  if (!t) co_return ctx.Problem(call, t.error());
  std::string etag = repr::ThreadETag((*t)->version);
  if (auto inm = call.req.Header("if-none-match"); inm && (*inm == etag || *inm == "*")) {
    Response r;
    r.status = 304;
    r.content_type.clear();
    r.With("ETag", std::move(etag));
    co_return r;
  }
  Response r;
  r.body = (*t)->body;  // one copy out of the shared memo; the server moves it into the response
  r.With("ETag", std::move(etag));
  co_return r;
}

asio::awaitable<Response> ListThreads(Ctx& ctx, Call& call) {
  storage::ThreadFilter filter;
  if (auto s = call.Query("status")) {
    filter.status = core::ParseThreadStatus(*s);
    if (!filter.status) {
      co_return ctx.Problem(call, Error::Make(ErrorCode::kMalformed,
                                              fmt::format("status must be open, answered, resolved or closed, got '{}'", *s)));
    }
  }
  if (auto k = call.Query("kind")) {
    filter.kind = core::ParseThreadKind(*k);
    if (!filter.kind) {
      co_return ctx.Problem(call, Error::Make(ErrorCode::kMalformed,
                                              fmt::format("kind must be question, feature_request, complaint or tip, got '{}'", *k)));
    }
  }
  if (auto tag = call.Query("tag")) {
    auto normalised = core::NormaliseTag(*tag);
    if (!normalised) co_return ctx.Problem(call, Error::Make(ErrorCode::kMalformed, normalised.error().detail));
    filter.tag = std::move(normalised).value();
  }
  filter.author_id = call.Query("author");
  auto limit = ctx.Limit(call);
  if (!limit) co_return ctx.Problem(call, limit.error());
  auto fp = core::QueryFingerprint(fmt::format("threads|{}|{}|{}|{}|{}", call.Who().org_id(),
                                               filter.status ? core::ToString(*filter.status) : "",
                                               filter.kind ? core::ToString(*filter.kind) : "",
                                               filter.tag.value_or(""), filter.author_id.value_or("")));
  auto after = CursorParam(call, fp);
  if (!after) co_return ctx.Problem(call, after.error());
  auto page = ctx.deps.threads->List(call.Who(), filter, *after, *limit);
  if (!page) co_return ctx.Problem(call, page.error());
  json::array items;
  for (const auto& t : page->items) items.emplace_back(repr::ThreadSummary(t));
  co_return PageResponse(call, std::move(items), page->next_key, fp);
}

core::Result<std::int64_t> ParseIfMatch(std::string_view v, std::int64_t current) {
  if (v == "*") return current;
  if (v.size() >= 4 && v.front() == '"' && v.back() == '"' && v[1] == 'v') {
    std::int64_t n = 0;
    auto [p, ec] = std::from_chars(v.data() + 2, v.data() + v.size() - 1, n);
    if (ec == std::errc() && p == v.data() + v.size() - 1) return n;
  }
  return Error::Make(ErrorCode::kPreconditionFailed,
                     fmt::format("If-Match {} does not match the thread's ETag", std::string(v)));
}

asio::awaitable<Response> PatchThread(Ctx& ctx, Call& call) {
  auto if_match = call.req.Header("if-match");
  if (!if_match) {
    co_return ctx.Problem(call, Error::Make(ErrorCode::kPreconditionRequired,
                                            "send If-Match with the ETag of the thread you edited"));
  }
  auto body = ctx.Body(call, "ThreadPatch");
  if (!body) co_return ctx.Problem(call, body.error());
  const auto& o = body->as_object();
  service::ThreadPatchInput patch;
  patch.title = OptString(o, "title");
  patch.body = OptString(o, "body");
  if (o.contains("tags")) patch.tags = Strings(o, "tags");
  if (auto s = OptString(o, "status")) patch.status = core::ParseThreadStatus(*s);
  auto current = ctx.deps.threads->Get(call.Who(), call.params[0]);
  if (!current) co_return ctx.Problem(call, current.error());
  auto expected = ParseIfMatch(*if_match, current->version);
  if (!expected) co_return ctx.Problem(call, expected.error()).With("ETag", repr::ThreadETag(*current));
  auto written = co_await ctx.deps.pool->Run(
      [&] { return ctx.deps.threads->Patch(call.Who(), call.params[0], patch, *expected); });
  if (!written) {
    Response r = ctx.Problem(call, written.error());
    if (written.error().code == ErrorCode::kPreconditionFailed) {
      // Tell the client which version it would have to start from.
      if (auto now = ctx.deps.threads->Get(call.Who(), call.params[0])) r.With("ETag", repr::ThreadETag(*now));
    }
    co_return r;
  }
  co_return WithSeq(ThreadResponse(200, written->value), written->seq);
}

asio::awaitable<Response> DeleteThread(Ctx& ctx, Call& call) {
  auto written = co_await ctx.deps.pool->Run([&] { return ctx.deps.threads->Delete(call.Who(), call.params[0]); });
  if (!written) co_return ctx.Problem(call, written.error());
  Response r;
  r.status = 204;
  r.content_type.clear();
  co_return WithSeq(std::move(r), written->seq);
}

asio::awaitable<Response> Revisions(Ctx& ctx, Call& call) {
  auto revs = ctx.deps.threads->Revisions(call.Who(), call.params[0]);
  if (!revs) co_return ctx.Problem(call, revs.error());
  json::array items;
  for (const auto& r : *revs) items.emplace_back(repr::Revision(r));
  co_return Ctx::Json(200, json::object{{"items", std::move(items)}});
}

asio::awaitable<Response> AddAnswer(Ctx& ctx, Call& call) {
  auto body = ctx.Body(call, "NewAnswer");
  if (!body) co_return ctx.Problem(call, body.error());
  std::string text(body->as_object().at("body").as_string());
  auto written =
      co_await ctx.deps.pool->Run([&] { return ctx.deps.threads->AddAnswer(call.Who(), call.params[0], text); });
  if (!written) co_return ctx.Problem(call, written.error());
  core::Thread owner;  // the answer's thread id is all Answer() needs besides the answer itself
  owner.id = call.params[0];
  co_return WithSeq(Ctx::Json(201, repr::Answer(owner, written->value)), written->seq);
}

asio::awaitable<Response> AddComment(Ctx& ctx, Call& call) {
  auto body = ctx.Body(call, "NewComment");
  if (!body) co_return ctx.Problem(call, body.error());
  const auto& o = body->as_object();
  std::string text(o.at("body").as_string());
  auto answer_id = OptString(o, "answer_id");
  auto written = co_await ctx.deps.pool->Run(
      [&] { return ctx.deps.threads->AddComment(call.Who(), call.params[0], text, answer_id); });
  if (!written) co_return ctx.Problem(call, written.error());
  co_return WithSeq(Ctx::Json(201, repr::Comment(written->value)), written->seq);
}

asio::awaitable<Response> Accept(Ctx& ctx, Call& call) {
  auto body = ctx.Body(call, "AcceptAnswer");
  if (!body) co_return ctx.Problem(call, body.error());
  auto answer_id = OptString(body->as_object(), "answer_id");
  auto written =
      co_await ctx.deps.pool->Run([&] { return ctx.deps.threads->Accept(call.Who(), call.params[0], answer_id); });
  if (!written) co_return ctx.Problem(call, written.error());
  co_return WithSeq(ThreadResponse(200, written->value), written->seq);
}

asio::awaitable<Response> Vote(Ctx& ctx, Call& call) {
  auto body = ctx.Body(call, "Vote");
  if (!body) co_return ctx.Problem(call, body.error());
  int value = static_cast<int>(body->as_object().at("value").to_number<std::int64_t>());
  auto written = co_await ctx.deps.pool->Run([&] { return ctx.deps.threads->Vote(call.Who(), call.params[0], value); });
  if (!written) co_return ctx.Problem(call, written.error());
  auto thread = ctx.deps.threads->Get(call.Who(), written->value.thread_id);
  if (!thread) co_return ctx.Problem(call, thread.error());
  co_return WithSeq(Ctx::Json(200, repr::Answer(*thread, written->value)), written->seq);
}

asio::awaitable<Response> Tags(Ctx& ctx, Call& call) {
  auto limit = ctx.Limit(call);
  if (!limit) co_return ctx.Problem(call, limit.error());
  auto fp = core::QueryFingerprint(fmt::format("tags|{}", call.Who().org_id()));
  auto after = CursorParam(call, fp);
  if (!after) co_return ctx.Problem(call, after.error());
  auto page = ctx.deps.threads->Tags(call.Who(), *after, *limit);
  if (!page) co_return ctx.Problem(call, page.error());
  json::array items;
  for (const auto& tc : page->items) items.emplace_back(repr::TagCount(tc));
  co_return PageResponse(call, std::move(items), page->next_key, fp);
}

}  // namespace

std::vector<Route> ThreadRoutes() {
  return {
      {"POST", "/v1/threads", &CreateThread},
      {"GET", "/v1/threads", &ListThreads},
      {"GET", "/v1/threads/:id", &GetThread},
      {"PATCH", "/v1/threads/:id", &PatchThread},
      {"DELETE", "/v1/threads/:id", &DeleteThread},
      {"GET", "/v1/threads/:id/revisions", &Revisions},
      {"POST", "/v1/threads/:id/answers", &AddAnswer},
      {"POST", "/v1/threads/:id/comments", &AddComment},
      {"POST", "/v1/threads/:id/accept", &Accept},
      {"POST", "/v1/answers/:id/vote", &Vote},
      {"GET", "/v1/tags", &Tags},
  };
}

}  // namespace streetwise::api
