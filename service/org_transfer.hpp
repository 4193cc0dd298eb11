// Export and import of one organisation (the offline `streetwise export` / `streetwise import`).
//
// Export reads an organisation's users and threads (with answers, comments, votes and revisions)
// in creation order. Import recreates them as a NEW organisation beside whatever the store already
// holds: every id is new (ids still encode the original creation times, so lists keep their
// order), authorship is carried over through a map from exported to new user ids, and no token is
// carried over: the import issues one fresh admin token. Each imported thread is one Mutation with
// its change-log events, so the search index picks it up like any other write.
//
// Blocking (RocksDB reads and commits): never call from an I/O thread. Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/model.hpp"
#include "service/account_service.hpp"
#include "storage/store.hpp"

namespace streetwise::service {

// One thread as exported: the aggregate plus what lives beside it in the store.
struct ExportedThread {
  core::Thread thread;                                        // answers and comments inside
  std::vector<core::Revision> revisions;                      // oldest first; may be empty
  std::map<std::string, std::vector<storage::VoteEntry>> votes;  // answer id -> votes on it
};

// The organisation an import created.
struct ImportedOrg {
  core::Org org;
  std::map<std::string, std::string> user_ids;  // exported user id -> new user id
  core::User admin;                             // holder of `token`
  IssuedToken token;                            // fresh; its secret is shown once
};

class OrgTransfer {
 public:
  // `store` and `clock` must outlive the object.
  OrgTransfer(storage::Store& store, const core::Clock& clock) : store_(store), clock_(clock) {}

  // ---- export ----

  // kNotFound for an unknown organisation.
  core::Result<core::Org> GetOrg(const std::string& org_id) const;
  // Users of the org in creation order; `visit` returns false to stop.
  core::Status ForEachUser(const std::string& org_id, const std::function<bool(const core::User&)>& visit) const;
  // Threads of the org in creation order with their revisions and votes; `visit` returns false
  // to stop.
  core::Status ForEachThread(const std::string& org_id,
                             const std::function<bool(const ExportedThread&)>& visit) const;

  // ---- import ----

  // Checks an exported thread without writing anything: title, body, tags, deal context and
  // answer/comment sizes pass the API's validation; every author, editor and voter satisfies
  // `known_user` (an exported user id); the accepted answer and each comment's answer belong to
  // the thread; answer and comment ids are unique. kInvalidArgument naming the thread and the
  // problem.
  static core::Status CheckThread(const ExportedThread& t, const std::function<bool(const std::string&)>& known_user);

  // Creates a new organisation named `name` holding `users` (new ids; names, emails, roles and
  // creation times kept) in one mutation, then issues a fresh token for the first admin among
  // them; if none is an admin, an "Administrator" user is added for it. kInvalidArgument for an
  // empty name, a user without a name or a repeated user id.
  core::Result<ImportedOrg> CreateOrg(const std::string& name, const std::vector<core::User>& users);

  // Writes one exported thread into `target` as one mutation: the thread with new thread, answer
  // and comment ids (authors mapped), its revisions (or revision 1 from the current text if there
  // are none), answer locators, votes (each answer's score recomputed from them when any are
  // given) and change-log events thread_created, answer_created per answer and comment_created
  // per comment, stamped with the import time. Status, version, revision and times are kept.
  // Runs CheckThread first.
  core::Result<Written<core::Thread>> ImportThread(const ImportedOrg& target, const ExportedThread& source);

 private:
  storage::Store& store_;
  const core::Clock& clock_;
};

}  // namespace streetwise::service
