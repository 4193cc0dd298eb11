#include "core/thread_policy.hpp"

#include <doctest/doctest.h>

#include <string>

namespace streetwise::core {
namespace {
TEST_SUITE_BEGIN("core");

User MakeUser(std::string id, Role role) {
  User u;
  u.id = std::move(id);
  u.org_id = "o1";
  u.name = u.id;
  u.role = role;
  return u;
}

Thread MakeThread(std::string author_id) {
  Thread t;
  t.id = "t1";
  t.org_id = "o1";
  t.title = "title";
  t.author_id = std::move(author_id);
  return t;
}

Answer MakeAnswer(std::string id) {
  Answer a;
  a.id = std::move(id);
  a.thread_id = "t1";
  a.body = "answer";
  a.author_id = "u_expert";
  return a;
}

TEST_CASE("DerivedStatus follows open -> answered -> resolved and back") {
  Thread t = MakeThread("u_author");
  CHECK(DerivedStatus(t) == ThreadStatus::kOpen);

  t.answers.push_back(MakeAnswer("a1"));
  CHECK(DerivedStatus(t) == ThreadStatus::kAnswered);

  t.answers.push_back(MakeAnswer("a2"));
  CHECK(DerivedStatus(t) == ThreadStatus::kAnswered);

  t.accepted_answer_id = "a2";
  CHECK(DerivedStatus(t) == ThreadStatus::kResolved);

  t.accepted_answer_id.reset();  // un-accepting goes back to answered
  CHECK(DerivedStatus(t) == ThreadStatus::kAnswered);
}

TEST_CASE("DerivedStatus never reports closed, even for a closed thread") {
  Thread t = MakeThread("u_author");
  t.status = ThreadStatus::kClosed;
  CHECK(DerivedStatus(t) == ThreadStatus::kOpen);
  t.answers.push_back(MakeAnswer("a1"));
  CHECK(DerivedStatus(t) == ThreadStatus::kAnswered);
  t.accepted_answer_id = "a1";
  CHECK(DerivedStatus(t) == ThreadStatus::kResolved);
}

TEST_CASE("CanEditThread and CanAcceptAnswer: the author or an admin") {
  Thread t = MakeThread("u_author");
  User author = MakeUser("u_author", Role::kMember);
  User other_member = MakeUser("u_other", Role::kMember);
  User expert = MakeUser("u_expert", Role::kExpert);
  User admin = MakeUser("u_admin", Role::kAdmin);

  CHECK(CanEditThread(author, t));
  CHECK(CanEditThread(admin, t));
  CHECK_FALSE(CanEditThread(other_member, t));
  CHECK_FALSE(CanEditThread(expert, t));

  CHECK(CanAcceptAnswer(author, t));
  CHECK(CanAcceptAnswer(admin, t));
  CHECK_FALSE(CanAcceptAnswer(other_member, t));
  CHECK_FALSE(CanAcceptAnswer(expert, t));

  // An author who is an expert is still the author.
  User expert_author = MakeUser("u_author", Role::kExpert);
  CHECK(CanEditThread(expert_author, t));
  CHECK(CanAcceptAnswer(expert_author, t));
}

TEST_CASE("CanChangeStatus: admins only, not even the author") {
  CHECK(CanChangeStatus(MakeUser("u_admin", Role::kAdmin)));
  CHECK_FALSE(CanChangeStatus(MakeUser("u_author", Role::kMember)));
  CHECK_FALSE(CanChangeStatus(MakeUser("u_expert", Role::kExpert)));
}

TEST_CASE("CanManageTokensOf: oneself, or anyone for admins") {
  User member = MakeUser("u_member", Role::kMember);
  User expert = MakeUser("u_expert", Role::kExpert);
  User admin = MakeUser("u_admin", Role::kAdmin);

  CHECK(CanManageTokensOf(member, "u_member"));
  CHECK_FALSE(CanManageTokensOf(member, "u_expert"));
  CHECK_FALSE(CanManageTokensOf(member, ""));
  CHECK(CanManageTokensOf(expert, "u_expert"));
  CHECK_FALSE(CanManageTokensOf(expert, "u_member"));
  CHECK(CanManageTokensOf(admin, "u_member"));
  CHECK(CanManageTokensOf(admin, "u_admin"));
}

TEST_CASE("CheckAcceptsContributions: only closed threads refuse, with kConflict") {
  Thread t = MakeThread("u_author");
  for (ThreadStatus s : {ThreadStatus::kOpen, ThreadStatus::kAnswered, ThreadStatus::kResolved}) {
    t.status = s;
    CHECK(CheckAcceptsContributions(t).ok());
  }
  t.status = ThreadStatus::kClosed;
  auto st = CheckAcceptsContributions(t);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().code == ErrorCode::kConflict);
}

TEST_SUITE_END();

}  // namespace
}  // namespace streetwise::core
