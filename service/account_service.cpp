#include "service/account_service.hpp"

#include <fmt/format.h>

#include "core/crypto.hpp"
#include "core/thread_policy.hpp"
#include "storage/keys.hpp"

namespace streetwise::service {
using core::Error;
using core::ErrorCode;
using core::Result;

namespace {

constexpr std::size_t kTokenDisplayPrefix = 12;

Error Unauthenticated() {
  return Error::Make(ErrorCode::kUnauthenticated, "the bearer token is missing, malformed, unknown or revoked");
}

core::Event MakeEvent(core::EventType type, const std::string& org, core::TimePoint at) {
  core::Event e;
  e.type = type;
  e.org_id = org;
  e.at = at;
  return e;
}

}  // namespace

IssuedToken AccountService::MakeToken(const core::User& user, const std::string& name) const {
  IssuedToken out;
  out.secret = core::NewTokenSecret();
  out.token.id = core::NewId("k", clock_.Now());
  out.token.org_id = user.org_id;
  out.token.user_id = user.id;
  out.token.name = name;
  out.token.prefix = out.secret.substr(0, kTokenDisplayPrefix);
  out.token.secret_sha256 = core::Sha256Hex(out.secret);
  out.token.created_at = clock_.Now();
  return out;
}

Result<Caller> AccountService::Authenticate(std::string_view bearer) const {
  if (!core::IsWellFormedTokenSecret(bearer)) return Unauthenticated();
  std::string digest = core::Sha256Hex(bearer);
  if (auto cached = callers_.Find(digest)) return *cached;
  auto epoch = callers_.Epoch(digest);
  auto token = store_.FindTokenBySecretHash(digest);
  if (!token) {
    if (token.error().code == ErrorCode::kNotFound) return Unauthenticated();
    return token.take_error();
  }
  if (!core::ConstantTimeEquals(token->secret_sha256, digest) || token->revoked_at) return Unauthenticated();
  auto user = store_.GetUser(token->org_id, token->user_id);
  if (!user) {
    if (user.error().code == ErrorCode::kNotFound) return Unauthenticated();
    return user.take_error();
  }
  auto caller = std::make_shared<const Caller>(Caller{std::move(user).value(), token->id});
  callers_.Insert(digest, caller, epoch);
  return *caller;
}

Result<Written<OrgCreated>> AccountService::CreateOrg(const std::string& name, const std::string& admin_name,
                                                     const std::optional<std::string>& admin_email) {
  auto now = clock_.Now();
  OrgCreated out;
  out.org = core::Org{core::NewId("o", now), name, now};
  out.admin = core::User{core::NewId("u", now), out.org.id, admin_name, admin_email, core::Role::kAdmin, now};
  out.token = MakeToken(out.admin, "initial admin token");

  storage::Mutation m;
  m.PutOrg(out.org);
  m.PutUser(out.admin);
  m.PutToken(out.token.token);
  auto e = MakeEvent(core::EventType::kOrgCreated, out.org.id, now);
  m.AddEvent(e);
  e.type = core::EventType::kUserCreated;
  e.user_id = out.admin.id;
  m.AddEvent(e);
  auto seq = store_.Commit(std::move(m));
  if (!seq) return seq.take_error();
  return Written<OrgCreated>{std::move(out), *seq};
}

Result<std::optional<OrgCreated>> AccountService::BootstrapIfEmpty(
    const std::function<bool(const std::string& secret)>& persist_secret) {
  auto marker = store_.GetMeta(storage::keys::kMetaBootstrapped);
  if (!marker) return marker.take_error();
  if (marker->has_value()) return std::optional<OrgCreated>();
  auto now = clock_.Now();
  OrgCreated out;
  out.org = core::Org{core::NewId("o", now), "Default organisation", now};
  out.admin = core::User{core::NewId("u", now), out.org.id, "Administrator", std::nullopt, core::Role::kAdmin, now};
  out.token = MakeToken(out.admin, "bootstrap admin token");
  if (!persist_secret(out.token.secret)) return Error::Internal("cannot persist the bootstrap admin token");
  storage::Mutation m;
  m.PutOrg(out.org);
  m.PutUser(out.admin);
  m.PutToken(out.token.token);
  m.SetMeta(storage::keys::kMetaBootstrapped, out.org.id);
  m.AddEvent(MakeEvent(core::EventType::kOrgCreated, out.org.id, now));
  auto seq = store_.Commit(std::move(m));
  if (!seq) return seq.take_error();
  return std::optional<OrgCreated>(std::move(out));
}

Result<Caller> AccountService::DefaultAdmin() const {
  auto org = store_.GetMeta(storage::keys::kMetaBootstrapped);
  if (!org) return org.take_error();
  if (!org->has_value()) return Error::Make(ErrorCode::kNotFound, "the data directory has no default organisation");
  auto admins = store_.ListUsers(**org, core::Role::kAdmin, std::nullopt, 1);
  if (!admins) return admins.take_error();
  if (admins->items.empty()) return Error::Make(ErrorCode::kNotFound, "the default organisation has no admin");
  return Caller{admins->items.front(), ""};
}

Result<Written<core::User>> AccountService::CreateUser(const Caller& caller, const NewUserInput& input) {
  if (caller.user.role != core::Role::kAdmin) {
    return Error::Make(ErrorCode::kForbidden, "only admins can create users");
  }
  auto now = clock_.Now();
  core::User user{core::NewId("u", now), caller.org_id(), input.name, input.email, input.role, now};
  storage::Mutation m;
  m.PutUser(user);
  auto e = MakeEvent(core::EventType::kUserCreated, caller.org_id(), now);
  e.user_id = user.id;
  e.actor_id = caller.user.id;
  m.AddEvent(e);
  auto seq = store_.Commit(std::move(m));
  if (!seq) return seq.take_error();
  return Written<core::User>{std::move(user), *seq};
}

Result<core::User> AccountService::GetUser(const Caller& caller, const std::string& user_id) const {
  return store_.GetUser(caller.org_id(), user_id);
}

Result<storage::Page<core::User>> AccountService::ListUsers(const Caller& caller, std::optional<core::Role> role,
                                                            const std::optional<std::string>& after,
                                                            std::size_t limit) const {
  return store_.ListUsers(caller.org_id(), role, after, limit);
}

Result<core::Org> AccountService::GetOrg(const Caller& caller) const { return store_.GetOrg(caller.org_id()); }

Result<Written<IssuedToken>> AccountService::IssueToken(const Caller& caller, const std::string& user_id,
                                                        const std::string& name) {
  auto user = store_.GetUser(caller.org_id(), user_id);
  if (!user) return user.take_error();  // another org's user is not found, exactly as a missing one
  if (!core::CanManageTokensOf(caller.user, user_id)) {
    return Error::Make(ErrorCode::kForbidden, "only admins can issue tokens for other users");
  }
  auto issued = MakeToken(*user, name);
  storage::Mutation m;
  m.PutToken(issued.token);
  auto e = MakeEvent(core::EventType::kTokenCreated, caller.org_id(), issued.token.created_at);
  e.user_id = user_id;
  e.actor_id = caller.user.id;
  m.AddEvent(e);
  auto seq = store_.Commit(std::move(m));
  if (!seq) return seq.take_error();
  return Written<IssuedToken>{std::move(issued), *seq};
}

Result<std::vector<core::Token>> AccountService::ListTokens(const Caller& caller, const std::string& user_id) const {
  auto user = store_.GetUser(caller.org_id(), user_id);
  if (!user) return user.take_error();
  if (!core::CanManageTokensOf(caller.user, user_id)) {
    return Error::Make(ErrorCode::kForbidden, "only admins can list other users' tokens");
  }
  return store_.ListTokens(caller.org_id(), user_id);
}

Result<Written<core::Token>> AccountService::RevokeToken(const Caller& caller, const std::string& token_id) {
  auto token = store_.GetToken(token_id);
  if (!token) return token.take_error();
  if (token->org_id != caller.org_id()) return Error::Make(ErrorCode::kNotFound, "token not found");
  if (!core::CanManageTokensOf(caller.user, token->user_id)) {
    return Error::Make(ErrorCode::kForbidden, "only admins can revoke other users' tokens");
  }
  if (token->revoked_at) return Written<core::Token>{std::move(token).value(), store_.VisibleHead()};
  token->revoked_at = clock_.Now();
  storage::Mutation m;
  m.PutToken(*token);
  auto e = MakeEvent(core::EventType::kTokenRevoked, caller.org_id(), *token->revoked_at);
  e.user_id = token->user_id;
  e.actor_id = caller.user.id;
  m.AddEvent(e);
  auto seq = store_.Commit(std::move(m));
  if (!seq) return seq.take_error();
  callers_.Clear();  // the revoked token must stop working at once
  return Written<core::Token>{std::move(token).value(), *seq};
}

}  // namespace streetwise::service
