// The notification dispatcher: delivers what the outbox holds, off the request path.
//
// Threads (all owned here):
//  - the scheduler polls the change log (the thread.answered trigger, below) and the outbox
//    (keys be64(due_ms)/id, so due entries come first). A notification entry is expanded in ONE
//    mutation into its channel deliveries: the in-app inbox item (written at once, never delayed),
//    one outbox delivery entry per remote channel (e-mail, the user's webhook, each subscribed org
//    webhook), each with its own due time, retries and log; the notification entry is deleted in
//    the same batch. Due deliveries are handed to the transport, at most
//    `max_in_flight_per_endpoint` per endpoint (further ones for a saturated endpoint are pushed
//    back a second), so a hung receiver never holds up the others.
//  - transport threads (Transport, libcurl multi) run the HTTP and SMTP transfers.
//  - the committer records outcomes in batches (one WriteBatch per batch): the delivery entry is
//    deleted, or rewritten at its next due time (RetryPolicy), or the delivery parked as dead; the
//    deliveries log (summary + one record per attempt) is updated in the same batch.
// Delivery is at least once: an entry leaves the outbox only in the batch that records its
// outcome, so a crash after a receiver answered 2xx redelivers with the same webhook-id/Message-ID.
//
// The thread.answered trigger: a change-log consumer that turns answer.created into a
// notification to the thread's author (unless the author answered), enqueued in the same batch
// as the consumer's position (meta "notify_position"). Answers older than `news_horizon` (imports,
// restored backups) notify nobody.
//
// Durability of the dispatcher's own writes: expansions are fsynced (an inbox item is durable
// before it is published to a live stream and before its deliveries start). The trigger's
// position, outcomes and deferrals are committed without fsync: RocksDB's WAL is sequential, so
// the next fsynced write (an expansion or any API write) makes them durable too, and losing them
// in a power cut only repeats work whose effects are idempotent (same notification ids, same
// webhook-id / Message-ID: receivers de-duplicate). A kill -9 loses none of them.
//
// Respecting people: non-urgent e-mail and personal-webhook deliveries wait for the end of the
// recipient's quiet hours (settings; time zone from the settings, else the expertise record,
// else UTC); with the daily digest on, non-urgent e-mail is collected and sent once a day at the
// end of the quiet hours (08:00 local without quiet hours). A notification id is delivered at most
// once per person: a second outbox entry with an id already in the inbox is dropped.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "notify/inbox_hub.hpp"
#include "notify/retry_policy.hpp"
#include "storage/store.hpp"

namespace streetwise::notify {

struct DispatcherOptions {
  std::string smtp_url;                                  // "" disables e-mail
  std::string smtp_from = "streetwise@localhost";        // envelope and From: address
  std::string public_base_url = "http://127.0.0.1:8080"; // links in messages
  std::chrono::milliseconds webhook_timeout{10'000};     // per attempt
  std::chrono::milliseconds smtp_timeout{30'000};        // per attempt
  bool webhook_allow_private = true;                     // see url_guard.hpp
  std::chrono::milliseconds answer_link_ttl = std::chrono::hours(24 * 7);  // 0: messages carry no answer link
  std::size_t transport_threads = 2;
  RetryPolicy retry;
  std::chrono::milliseconds poll_interval{10};           // scheduler tick when idle
  std::size_t max_in_flight = 1024;                      // transfers at once
  std::size_t max_in_flight_per_endpoint = 8;            // per webhook / user webhook / SMTP relay
  std::chrono::milliseconds news_horizon = std::chrono::hours(24);
};

// Attempts of remote deliveries on one channel since start. An attempt is a transfer whose
// outcome was recorded (delivered, retry or dead); a cancelled delivery and a transfer aborted by
// Stop() are not attempts.
struct ChannelAttempts {
  std::uint64_t attempts = 0;
  std::uint64_t failures = 0;  // attempts whose outcome was retry or dead
};

struct DispatcherStats {
  std::uint64_t expanded = 0;   // notifications expanded
  std::uint64_t delivered = 0;  // remote deliveries that succeeded
  std::uint64_t retried = 0;    // failed attempts rescheduled
  std::uint64_t dead = 0;       // deliveries parked as dead
  std::uint64_t cancelled = 0;  // target gone (webhook deleted, e-mail turned off)
  std::uint64_t in_flight = 0;  // transfers running now
  std::uint64_t consumed_seq = 0;  // change-log position of the thread.answered trigger
  // By channel name (ToString(Channel): "email", "user_webhook", "org_webhook", "digest"); every
  // channel is present, with zeros until its first attempt.
  std::map<std::string, ChannelAttempts> channels;
  // Entries in the outbox (notifications not yet expanded, and deliveries pending or waiting for
  // a retry), counted exactly by the scheduler thread every few seconds (see kOutboxCountInterval
  // in dispatcher.cpp); 0 before the first count.
  std::uint64_t outbox_depth = 0;
};

class Dispatcher {
 public:
  // `store`, `clock` and `hub` must outlive the dispatcher. `answer_link_key` signs answer links
  // (LoadOrCreateAnswerLinkKey).
  Dispatcher(storage::Store& store, const core::Clock& clock, InboxHub& hub, std::string answer_link_key,
             DispatcherOptions options);
  ~Dispatcher();  // Stop()
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Loads (on first start: initialises to the change-log head) the trigger's position and starts
  // the threads. Errors: the store's.
  core::Status Start();
  // Stops scheduling, aborts running transfers (they stay in the outbox and are retried after the
  // next start), records finished outcomes and joins every thread. Idempotent.
  void Stop();
  // Wakes the scheduler now (e.g. after a manual redelivery). Thread-safe.
  void Kick();

  DispatcherStats Stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace streetwise::notify
