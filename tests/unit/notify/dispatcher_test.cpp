// The dispatcher on a real store with an injected clock: expansion into the inbox and per-channel
// outbox entries, de-duplication, quiet hours, the digest, and a failed attempt rescheduled. The
// clock does not move, so nothing held for later is ever sent; remote attempts go to a closed
// loopback port and fail fast.
#include "notify/dispatcher.hpp"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include "notify/inbox_hub.hpp"
#include "notify/notify_store.hpp"
#include "notify/outbox.hpp"
#include "notify/records.hpp"
#include "service/account_service.hpp"
#include "service/notification_service.hpp"
#include "service/thread_service.hpp"
#include "storage/keys.hpp"
#include "storage/store.hpp"
#include "unit/support/test_support.hpp"

namespace streetwise::notify {
namespace {
TEST_SUITE_BEGIN("notify");
using namespace std::chrono_literals;
using testing::Must;
namespace keys = storage::keys;

// A loopback port nothing listens on (bound, then closed).
int ClosedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds limit = 5000ms) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);  // polling with a deadline, not synchronisation by sleep
  }
  return true;
}

core::TimePoint Utc(std::string_view s) { return *core::ParseTimestamp(s); }

template <class T>
core::ErrorCode MustFailCode(core::Result<T> r) {
  return testing::MustFail(std::move(r)).code;
}

struct Fixture {
  testing::TempDir dir;
  testing::FakeClock clock{core::ToUnixMillis(Utc("2026-06-01T23:30:00Z"))};
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<service::AccountService> accounts;
  std::unique_ptr<service::ThreadService> threads;
  std::unique_ptr<service::NotificationService> notifications;
  InboxHub hub;
  std::unique_ptr<Dispatcher> dispatcher;
  service::Caller admin, alice, bob;
  std::string dead_url;

  Fixture() {
    storage::StoreOptions options;
    options.durability = storage::Durability::kOs;
    options.block_cache_bytes = 8u << 20;
    store = Must(storage::Store::Open(dir.path() / "db", options));
    accounts = std::make_unique<service::AccountService>(*store, clock);
    threads = std::make_unique<service::ThreadService>(*store, clock);
    auto org = Must(accounts->CreateOrg("Acme", "Ada Admin", std::nullopt));
    admin = Must(accounts->Authenticate(org.value.token.secret));
    alice = NewUser("alice", "alice@example.com");
    bob = NewUser("bob", std::nullopt);
    int port = ClosedPort();
    dead_url = "http://127.0.0.1:" + std::to_string(port) + "/hook";
    std::string key = Must(LoadOrCreateAnswerLinkKey(*store));
    DispatcherOptions o;
    o.smtp_url = "smtp://127.0.0.1:" + std::to_string(port);
    o.poll_interval = 5ms;
    o.transport_threads = 1;
    dispatcher = std::make_unique<Dispatcher>(*store, clock, hub, key, o);
    notifications = std::make_unique<service::NotificationService>(
        *store, clock, *threads, key, service::NotificationServiceOptions{true, true}, dispatcher.get());
    Must(dispatcher->Start());
  }
  ~Fixture() { dispatcher->Stop(); }

  service::Caller NewUser(const std::string& name, std::optional<std::string> email) {
    clock.Advance(1ms);
    auto user = Must(accounts->CreateUser(admin, service::NewUserInput{name, email, core::Role::kMember}));
    auto token = Must(accounts->IssueToken(admin, user.value.id, "t"));
    return Must(accounts->Authenticate(token.value.secret));
  }

  core::Thread Ask(const service::Caller& who) {
    service::NewThreadInput in;
    in.title = "How do we price EMEA renewals?";
    in.tags = {"pricing"};
    return Must(threads->Create(who, in, std::nullopt)).value;
  }

  std::vector<InboxItem> Inbox(const service::Caller& who) {
    return Must(notifications->ListInbox(who, false, std::nullopt, 100)).items;
  }

  // Outbox entries as (due, id).
  std::vector<OutboxKeyParts> Outbox() {
    std::vector<OutboxKeyParts> out;
    (void)store->ScanRaw(keys::kCfOutbox, "", std::nullopt, [&](std::string_view k, std::string_view) {
      if (auto p = ParseOutboxKey(k)) out.push_back(*p);
      return true;
    });
    return out;
  }

  std::optional<OutboxKeyParts> OutboxEntry(const std::string& id) {
    for (auto& p : Outbox()) {
      if (p.id == id) return p;
    }
    return std::nullopt;
  }

  void Settings(const service::Caller& who, service::SettingsInput in) { Must(notifications->PutSettings(who, in)); }
};

TEST_CASE_FIXTURE(Fixture, "an answer notifies the thread's author in the inbox, once, and never its own author") {
  auto t = Ask(alice);
  Must(threads->AddAnswer(alice, t.id, "answering myself"));  // no notification for one's own answer
  Must(threads->AddAnswer(bob, t.id, "Use the EMEA price book."));
  REQUIRE(WaitFor([&] { return Inbox(alice).size() == 1; }));
  auto items = Inbox(alice);
  CHECK(items[0].position == 1);
  CHECK(items[0].notification.type == core::kNotifyThreadAnswered);
  CHECK(items[0].notification.thread_id == t.id);
  CHECK(items[0].notification.data_json.find("Use the EMEA price book.") != std::string::npos);
  CHECK(Inbox(bob).empty());

  // The same notification enqueued again (a producer retrying) is dropped at expansion.
  storage::Mutation m;
  Enqueue(m, items[0].notification);
  Must(store->Commit(std::move(m)));
  REQUIRE(WaitFor([&] { return !OutboxEntry(items[0].notification.id).has_value(); }));
  CHECK(Inbox(alice).size() == 1);

  auto read = Must(notifications->MarkRead(alice, items[0].notification.id)).value;
  CHECK(read.read_at);
  CHECK(Must(notifications->ListInbox(alice, true, std::nullopt, 10)).items.empty());
  CHECK(Must(notifications->MarkRead(alice, items[0].notification.id)).value.read_at == read.read_at);
  CHECK(MustFailCode(notifications->MarkRead(bob, items[0].notification.id)) == core::ErrorCode::kNotFound);
}

TEST_CASE_FIXTURE(Fixture, "quiet hours hold e-mail and webhooks until they end, but never the inbox") {
  service::SettingsInput s;
  s.quiet_hours = QuietHours{22 * 60, 7 * 60};  // UTC (no time zone anywhere); now is 23:30
  s.webhook_url = dead_url;
  Settings(alice, s);
  auto t = Ask(alice);
  Must(threads->AddAnswer(bob, t.id, "An answer at night"));
  REQUIRE(WaitFor([&] { return Inbox(alice).size() == 1; }));
  const auto id = Inbox(alice)[0].notification.id;
  auto email = OutboxEntry(id + ".email");
  auto hook = OutboxEntry(id + ".webhook");
  REQUIRE(email);
  REQUIRE(hook);
  CHECK(email->due == Utc("2026-06-02T07:00:00Z"));
  CHECK(hook->due == Utc("2026-06-02T07:00:00Z"));

  // An urgent notification breaks through: attempted now (the receiver is down), then rescheduled.
  core::Notification urgent = Inbox(alice)[0].notification;
  urgent.id = "n-urgent-1";
  urgent.urgent = true;
  storage::Mutation m;
  Enqueue(m, urgent);
  Must(store->Commit(std::move(m)));
  REQUIRE(WaitFor([&] {
    auto e = OutboxEntry("n-urgent-1.webhook");
    return e && e->due > clock.Now();
  }));
  auto retry = *OutboxEntry("n-urgent-1.webhook");
  CHECK(retry.due >= clock.Now() + 4s);  // 5 s +- 20 %
  CHECK(retry.due <= clock.Now() + 6s);
}

TEST_CASE_FIXTURE(Fixture, "the digest collects non-urgent e-mail for one daily message") {
  service::SettingsInput s;
  s.digest = true;
  Settings(alice, s);
  auto t = Ask(alice);
  Must(threads->AddAnswer(bob, t.id, "First"));
  REQUIRE(WaitFor([&] { return Inbox(alice).size() == 1; }));
  const auto id = Inbox(alice)[0].notification.id;
  CHECK_FALSE(OutboxEntry(id + ".email"));
  auto slot = Utc("2026-06-02T08:00:00Z");  // 08:00 local (UTC) without quiet hours
  auto digest = OutboxEntry("digest." + alice.org_id() + "." + alice.user.id + "." +
                            std::to_string(core::ToUnixMillis(slot)));
  REQUIRE(digest);
  CHECK(digest->due == slot);
  auto held = store->GetRaw(keys::kCfInbox, DigestItemKey(alice.org_id(), alice.user.id, id));
  CHECK((held && *held));
}

TEST_CASE_FIXTURE(Fixture, "an org webhook's failed attempt is logged and rescheduled with the same id") {
  service::NewWebhookInput in;
  in.url = dead_url;
  in.events = {core::kNotifyThreadAnswered};
  auto hook = Must(notifications->CreateWebhook(admin, in)).value;
  CHECK(hook.secret.starts_with("whsec_"));
  auto t = Ask(alice);
  Must(threads->AddAnswer(bob, t.id, "Answer"));
  REQUIRE(WaitFor([&] { return Inbox(alice).size() == 1; }));
  const auto id = Inbox(alice)[0].notification.id;
  REQUIRE(WaitFor([&] {
    auto page = Must(notifications->ListDeliveries(admin, hook.id, std::nullopt, 10));
    return page.items.size() == 1 && page.items[0].summary.status == DeliveryStatus::kRetrying;
  }));
  auto d = Must(notifications->ListDeliveries(admin, hook.id, std::nullopt, 10)).items.at(0);
  CHECK(d.summary.notification_id == id);
  CHECK(d.summary.attempts == 1);
  REQUIRE(d.attempts.size() == 1);
  CHECK(d.attempts[0].outcome == "retry");
  CHECK(d.attempts[0].error.has_value());
  CHECK_FALSE(d.attempts[0].status_code.has_value());
  CHECK(OutboxEntry(id + "." + hook.id));
  // Redelivery is refused while the delivery is still scheduled.
  CHECK(MustFailCode(notifications->Redeliver(admin, hook.id, id)) == core::ErrorCode::kConflict);
  // Members cannot see webhooks.
  CHECK(MustFailCode(notifications->ListWebhooks(alice)) == core::ErrorCode::kForbidden);
}

TEST_SUITE_END();
}  // namespace
}  // namespace streetwise::notify
