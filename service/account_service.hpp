// Organisations, users, API tokens and authentication.
//
// Blocking (RocksDB reads and fsynced commits): call from the blocking pool, never an I/O thread.
// Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/read_cache.hpp"
#include "core/model.hpp"
#include "storage/store.hpp"

namespace streetwise::service {

// A mutation's result plus the change-log seq of its last event (read-your-writes for clients).
template <class T>
struct Written {
  T value;
  std::uint64_t seq = 0;
};

// An authenticated principal: a user of one organisation, via one token.
struct Caller {
  core::User user;
  std::string token_id;
  const std::string& org_id() const { return user.org_id; }
};

struct IssuedToken {
  core::Token token;
  std::string secret;  // shown once
};

struct NewUserInput {
  std::string name;
  std::optional<std::string> email;
  core::Role role = core::Role::kMember;
};

struct OrgCreated {
  core::Org org;
  core::User admin;
  IssuedToken token;
};

class AccountService {
 public:
  // `store` and `clock` must outlive the service.
  AccountService(storage::Store& store, const core::Clock& clock) : store_(store), clock_(clock) {}

  // Resolves a bearer token to its caller. kUnauthenticated for malformed, unknown or revoked
  // tokens (one message for all, so the response is no oracle).
  core::Result<Caller> Authenticate(std::string_view bearer) const;

  // Creates an organisation with its first admin and that admin's token.
  core::Result<Written<OrgCreated>> CreateOrg(const std::string& name, const std::string& admin_name,
                                             const std::optional<std::string>& admin_email);

  // If the store has never been initialised, creates the default organisation and admin and
  // returns them with the admin's token; otherwise nullopt. `persist_secret` is called with the
  // token secret BEFORE anything is committed: if it fails, nothing is, so a later start retries
  // instead of leaving an organisation whose only admin token was never written down.
  core::Result<std::optional<OrgCreated>> BootstrapIfEmpty(
      const std::function<bool(const std::string& secret)>& persist_secret);

  // The first admin of the default (bootstrap) organisation, as a caller; for offline CLI work
  // such as bulk loading. kNotFound before the first start.
  core::Result<Caller> DefaultAdmin() const;

  core::Result<Written<core::User>> CreateUser(const Caller& caller, const NewUserInput& input);
  core::Result<core::User> GetUser(const Caller& caller, const std::string& user_id) const;
  core::Result<storage::Page<core::User>> ListUsers(const Caller& caller, std::optional<core::Role> role,
                                                    const std::optional<std::string>& after,
                                                    std::size_t limit) const;
  core::Result<core::Org> GetOrg(const Caller& caller) const;

  core::Result<Written<IssuedToken>> IssueToken(const Caller& caller, const std::string& user_id,
                                                const std::string& name);
  core::Result<std::vector<core::Token>> ListTokens(const Caller& caller, const std::string& user_id) const;
  core::Result<Written<core::Token>> RevokeToken(const Caller& caller, const std::string& token_id);

  // Builds (does not store) a new token for `user` with a fresh secret; the caller commits it with
  // storage::Mutation::PutToken. For writers that create a user and its token in one mutation
  // (OrgTransfer's import).
  IssuedToken MakeToken(const core::User& user, const std::string& name) const;

 private:

  storage::Store& store_;
  const core::Clock& clock_;
  // Authenticated callers by token digest; cleared on every token revocation.
  mutable core::ReadCache<Caller> callers_{50000};
};

}  // namespace streetwise::service
