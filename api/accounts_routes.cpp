// Organisations, the caller, users, tokens and the org event feed.
#include <fmt/format.h>

#include <charconv>

#include "api/representation.hpp"
#include "api/route_context.hpp"
#include "core/cursor.hpp"

namespace streetwise::api {
using core::Error;
using core::ErrorCode;
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

asio::awaitable<Response> CreateOrg(Ctx& ctx, Call& call) {
  auto body = ctx.Body(call, "NewOrg");
  if (!body) co_return ctx.Problem(call, body.error());
  const auto& o = body->as_object();
  std::string name(o.at("name").as_string());
  std::string admin_name(o.at("admin_name").as_string());
  auto email = OptString(o, "admin_email");
  auto created = co_await ctx.deps.pool->Run([&] { return ctx.deps.accounts->CreateOrg(name, admin_name, email); });
  if (!created) co_return ctx.Problem(call, created.error());
  const auto& v = created->value;
  json::object out{{"org", repr::Org(v.org)}, {"admin", repr::User(v.admin)}, {"token", repr::NewToken(v.token)}};
  co_return WithSeq(Ctx::Json(201, out), created->seq);
}

asio::awaitable<Response> Me(Ctx& ctx, Call& call) {
  auto org = ctx.deps.accounts->GetOrg(call.Who());
  if (!org) co_return ctx.Problem(call, org.error());
  auto out = repr::User(call.Who().user);
  out["org"] = repr::Org(*org);
  co_return Ctx::Json(200, out);
}

asio::awaitable<Response> CreateUser(Ctx& ctx, Call& call) {
  if (call.Who().user.role != core::Role::kAdmin) {
    co_return ctx.Problem(call, Error::Make(ErrorCode::kForbidden, "only admins can create users"));
  }
  auto body = ctx.Body(call, "NewUser");
  if (!body) co_return ctx.Problem(call, body.error());
  const auto& o = body->as_object();
  service::NewUserInput in;
  in.name = std::string(o.at("name").as_string());
  in.email = OptString(o, "email");
  in.role = core::ParseRole(o.at("role").as_string()).value_or(core::Role::kMember);
  auto created = co_await ctx.deps.pool->Run([&] { return ctx.deps.accounts->CreateUser(call.Who(), in); });
  if (!created) co_return ctx.Problem(call, created.error());
  Response r = Ctx::Json(201, repr::User(created->value));
  r.With("Location", fmt::format("/v1/users/{}", created->value.id));
  co_return WithSeq(std::move(r), created->seq);
}

asio::awaitable<Response> ListUsers(Ctx& ctx, Call& call) {
  std::optional<core::Role> role;
  if (auto raw = call.Query("role")) {
    role = core::ParseRole(*raw);
    if (!role) {
      co_return ctx.Problem(call, Error::Make(ErrorCode::kMalformed,
                                              fmt::format("role must be member, expert or admin, got '{}'", *raw)));
    }
  }
  auto limit = ctx.Limit(call);
  if (!limit) co_return ctx.Problem(call, limit.error());
  auto fp = core::QueryFingerprint(fmt::format("users|{}|{}", call.Who().org_id(), role ? core::ToString(*role) : ""));
  auto after = CursorParam(call, fp);
  if (!after) co_return ctx.Problem(call, after.error());
  auto page = ctx.deps.accounts->ListUsers(call.Who(), role, *after, *limit);
  if (!page) co_return ctx.Problem(call, page.error());
  json::array items;
  for (const auto& u : page->items) items.emplace_back(repr::User(u));
  co_return PageResponse(call, std::move(items), page->next_key, fp);
}

asio::awaitable<Response> GetUser(Ctx& ctx, Call& call) {
  auto user = ctx.deps.accounts->GetUser(call.Who(), call.params[0]);
  if (!user) co_return ctx.Problem(call, user.error());
  co_return Ctx::Json(200, repr::User(*user));
}

asio::awaitable<Response> IssueToken(Ctx& ctx, Call& call) {
  auto body = ctx.Body(call, "TokenRequest");
  if (!body) co_return ctx.Problem(call, body.error());
  std::string name = OptString(body->as_object(), "name").value_or("");
  auto issued =
      co_await ctx.deps.pool->Run([&] { return ctx.deps.accounts->IssueToken(call.Who(), call.params[0], name); });
  if (!issued) co_return ctx.Problem(call, issued.error());
  co_return WithSeq(Ctx::Json(201, repr::NewToken(issued->value)), issued->seq);
}

asio::awaitable<Response> ListTokens(Ctx& ctx, Call& call) {
  auto tokens = ctx.deps.accounts->ListTokens(call.Who(), call.params[0]);
  if (!tokens) co_return ctx.Problem(call, tokens.error());
  json::array items;
  for (const auto& t : *tokens) items.emplace_back(repr::Token(t));
  co_return Ctx::Json(200, json::object{{"items", std::move(items)}});
}

asio::awaitable<Response> RevokeToken(Ctx& ctx, Call& call) {
  auto revoked = co_await ctx.deps.pool->Run([&] { return ctx.deps.accounts->RevokeToken(call.Who(), call.params[0]); });
  if (!revoked) co_return ctx.Problem(call, revoked.error());
  Response r;
  r.status = 204;
  r.content_type.clear();
  co_return WithSeq(std::move(r), revoked->seq);
}

asio::awaitable<Response> Events(Ctx& ctx, Call& call) {
  std::uint64_t after = 0;
  if (auto raw = call.Query("after")) {
    auto [p, ec] = std::from_chars(raw->data(), raw->data() + raw->size(), after);
    if (ec != std::errc() || p != raw->data() + raw->size()) {
      co_return ctx.Problem(call, Error::Make(ErrorCode::kMalformed,
                                              fmt::format("after must be a non-negative integer, got '{}'", *raw)));
    }
  }
  auto limit = ctx.Limit(call);
  if (!limit) co_return ctx.Problem(call, limit.error());
  auto events = ctx.deps.threads->Events(call.Who(), after, *limit);
  if (!events) co_return ctx.Problem(call, events.error());
  json::array items;
  for (const auto& e : *events) items.emplace_back(repr::Event(e));
  // Where to continue polling from: the last returned seq, or the request's own position.
  std::uint64_t next_after = events->empty() ? after : events->back().seq;
  co_return Ctx::Json(200, json::object{{"items", std::move(items)}, {"next_after", next_after}});
}

}  // namespace

std::vector<Route> AccountRoutes() {
  return {
      {"POST", "/v1/orgs", &CreateOrg},
      {"GET", "/v1/me", &Me},
      {"POST", "/v1/users", &CreateUser},
      {"GET", "/v1/users", &ListUsers},
      {"GET", "/v1/users/:id", &GetUser},
      {"POST", "/v1/users/:id/tokens", &IssueToken},
      {"GET", "/v1/users/:id/tokens", &ListTokens},
      {"DELETE", "/v1/tokens/:id", &RevokeToken},
      {"GET", "/v1/events", &Events},
  };
}

}  // namespace streetwise::api
