// streetwise: wires configuration, storage, services, the API and the HTTP server together.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include <boost/json.hpp>

#include "api/api.hpp"
#include "api/json_body.hpp"
#include "core/clock.hpp"
#include "net/blocking_pool.hpp"
#include "schemas/openapi.hpp"
#include "server/config.hpp"
#include "server/http_server.hpp"
#include "server/logging.hpp"
#include "server/metrics.hpp"
#include "core/rate_limiter.hpp"
#include "indexer/search_index.hpp"
#include "notify/dispatcher.hpp"
#include "notify/inbox_hub.hpp"
#include "notify/notify_store.hpp"
#include "service/notification_service.hpp"
#include "server/admin_client.hpp"
#include "server/backup.hpp"
#include "server/bulk_load.hpp"
#include "server/config_show.hpp"
#include "server/export_import.hpp"
#include "service/backup.hpp"
#include "service/account_service.hpp"
#include "service/reindex_job.hpp"
#include "service/insights_service.hpp"
#include "service/routing_service.hpp"
#include "service/search_service.hpp"
#include "service/thread_service.hpp"
#include "storage/store.hpp"

namespace {
using namespace streetwise;

// Writes `content` to `path` atomically and durably: a temp file created with `mode` from the
// start (never readable by others, even briefly), fsynced, renamed, then the directory fsynced.
bool WriteFileAtomically(const std::filesystem::path& path, const std::string& content, mode_t mode) {
  auto tmp = path;
  tmp += ".tmp";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return false;
  bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) && ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  if (!ok) return false;
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return false;
  int dir = ::open(path.parent_path().empty() ? "." : path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return true;
}

int Serve(server::Config config) {
  server::SetUpLogging(config.log_level);
  auto store = storage::Store::Open(config.data_dir / "db", storage::StoreOptions{config.durability});
  if (!store) {
    spdlog::critical("cannot open the data directory {}: {} ({})", config.data_dir.string(), store.error().detail,
                     store.error().cause);
    return 1;
  }
  core::SystemClock clock;
  service::AccountService accounts(**store, clock);
  service::ThreadServiceOptions thread_options;
  thread_options.rendered_cache_bytes = config.thread_cache_bytes;
  service::ThreadService threads(**store, clock, thread_options);

  auto token_file = config.data_dir / "admin-token";
  auto boot = accounts.BootstrapIfEmpty(
      [&](const std::string& secret) { return WriteFileAtomically(token_file, secret + "\n", 0600); });
  if (!boot) {
    spdlog::critical("cannot initialise the data directory: {} (could not write {}?)", boot.error().cause,
                     token_file.string());
    return 1;
  }
  if (*boot) {
    spdlog::info("created the default organisation {}; the admin's API token is in {}", (*boot)->org.id,
                 std::filesystem::absolute(token_file).string());
  }

  indexer::IndexOptions index_options;
  index_options.search_threads = config.search_threads;
  auto index = indexer::SearchIndex::Open(config.data_dir / "index", **store, index_options);
  if (!index) {
    spdlog::critical("cannot open the search index: {} ({})", index.error().detail, index.error().cause);
    return 1;
  }
  (*index)->Start();
  service::SearchService search(**store, **index, clock);
  service::ReindexJob reindex(**index);
  service::RoutingService routing(**store, clock, index->get());
  routing.Start();
  service::InsightsService insights(**store, clock);
  // The weekly digest lists the week's top topics of every kind from the search index.
  insights.SetDigestTopicsProvider([idx = index->get()](const std::string& org, core::TimePoint from, core::TimePoint to) {
    std::vector<service::DigestTopic> out;
    auto topics = idx->Topics(indexer::TopicsRequest{org, std::nullopt, from, to, 5});
    if (topics) {
      for (const auto& t : topics->topics) out.push_back({t.label, static_cast<std::int64_t>(t.thread_count)});
    }
    return out;
  });
  insights.Start();

  std::unique_ptr<api::RequestSchemas> schemas;
  try {
    schemas = std::make_unique<api::RequestSchemas>(schemas::OpenApiJson());
  } catch (const std::exception& e) {
    spdlog::critical("embedded API schema is broken: {}", e.what());
    return 1;
  }
  net::BlockingPool pool(config.blocking_threads);
  std::atomic<bool> ready{false};
  core::RateLimiter address_limiter({static_cast<double>(config.rate_limit_address_per_second),
                                     static_cast<double>(config.rate_limit_address_burst)},
                                    clock);
  core::RateLimiter token_limiter(
      {static_cast<double>(config.rate_limit_token_per_second), static_cast<double>(config.rate_limit_token_burst)},
      clock);
  core::RateLimiter auth_failure_limiter({config.auth_failures_per_minute / 60.0,
                                          static_cast<double>(std::max<std::size_t>(config.auth_failures_per_minute / 6, 1))},
                                         clock);
  api::ApiDeps deps{&accounts, &threads, &search, &reindex, &pool, schemas.get(), config.root_token, &ready};
  deps.address_limiter = &address_limiter;
  deps.token_limiter = &token_limiter;
  deps.auth_failure_limiter = &auth_failure_limiter;
  service::BackupService backups(**store, clock, config.data_dir);
  deps.backup = &backups;
  deps.routing = &routing;
  deps.insights = &insights;

  // Notification delivery (docs/notifications.md): the dispatcher works off the request path.
  auto link_key = notify::LoadOrCreateAnswerLinkKey(**store);
  if (!link_key) {
    spdlog::critical("cannot load the answer-link key: {}", link_key.error().cause);
    return 1;
  }
  notify::InboxHub inbox_hub;
  notify::DispatcherOptions notify_options;
  notify_options.smtp_url = config.smtp_url;
  notify_options.smtp_from = config.smtp_from;
  notify_options.public_base_url = config.public_base_url;
  notify_options.webhook_timeout = std::chrono::seconds(config.webhook_timeout_seconds);
  notify_options.webhook_allow_private = config.webhook_allow_private;
  notify_options.answer_link_ttl = std::chrono::hours(config.answer_link_ttl_hours);
  notify_options.transport_threads = config.dispatcher_threads;
  notify_options.retry = notify::RetryPolicy::Scaled(static_cast<std::int64_t>(config.retry_base_ms),
                                                     static_cast<int>(config.retry_max_attempts));
  notify::Dispatcher dispatcher(**store, clock, inbox_hub, *link_key, notify_options);
  if (auto st = dispatcher.Start(); !st) {
    spdlog::critical("cannot start the notification dispatcher: {}", st.error().cause);
    return 1;
  }
  if (config.webhook_allow_private) {
    spdlog::warn("webhook_allow_private = true: webhooks may target loopback and private addresses; "
                 "set it to false where tenants are not trusted (docs/notifications.md)");
  }
  service::NotificationService notifications(
      **store, clock, threads, *link_key,
      service::NotificationServiceOptions{config.webhook_allow_private, !config.smtp_url.empty(),
                                          std::chrono::hours(config.answer_link_ttl_hours)},
      &dispatcher);
  deps.notifications = &notifications;
  deps.inbox_hub = &inbox_hub;
  deps.sse_heartbeat_seconds = config.sse_heartbeat_seconds;
  api::Api api(std::move(deps));

  server::Metrics metrics;
  storage::Store& db = **store;
  indexer::SearchIndex& idx = **index;
  metrics.AddGauge("streetwise_change_log_head", "Highest committed change-log sequence number",
                   [&db] { return static_cast<double>(db.VisibleHead()); });
  metrics.AddGauge("streetwise_index_applied_seq", "Change-log sequence number the search index has applied",
                   [&idx] { return static_cast<double>(idx.AppliedSeq()); });
  metrics.AddGauge("streetwise_index_lag_events", "Change-log events not yet searchable", [&db, &idx] {
    auto head = db.VisibleHead(), applied = idx.AppliedSeq();
    return static_cast<double>(head > applied ? head - applied : 0);
  });
  metrics.AddGauge("streetwise_rocksdb_sst_files_bytes", "Size of all RocksDB SST files",
                   [&db] { return static_cast<double>(db.IntProperty("rocksdb.total-sst-files-size")); });
  metrics.AddGauge("streetwise_rocksdb_memtables_bytes", "Size of all RocksDB memtables",
                   [&db] { return static_cast<double>(db.IntProperty("rocksdb.cur-size-all-mem-tables")); });
  metrics.AddGauge("streetwise_rocksdb_write_stopped", "1 while RocksDB stops writes (stall)",
                   [&db] { return static_cast<double>(db.IntProperty("rocksdb.is-write-stopped")); });
  metrics.AddGauge("streetwise_rocksdb_delayed_write_rate_bytes", "RocksDB write throttling rate (0 = not delayed)",
                   [&db] { return static_cast<double>(db.IntProperty("rocksdb.actual-delayed-write-rate")); });
  metrics.AddGauge("streetwise_escalations_fired", "Escalation rounds that notified escalation contacts since start",
                   [&routing] { return static_cast<double>(routing.EscalationsFired()); });
  metrics.AddGauge("streetwise_routing_lag_events", "Change-log events the router has not applied yet",
                   [&db, &routing] {
                     auto head = db.VisibleHead(), pos = routing.Position();
                     return static_cast<double>(head > pos ? head - pos : 0);
                   });
  metrics.AddGauge("streetwise_insights_lag_events", "Change-log events the insights rollups do not include yet",
                   [&db, &insights] {
                     auto head = db.VisibleHead(), pos = insights.Position();
                     return static_cast<double>(head > pos ? head - pos : 0);
                   });
  metrics.AddGauge("streetwise_rocksdb_pending_compaction_bytes", "Estimated bytes compaction still has to rewrite",
                   [&db] { return static_cast<double>(db.IntProperty("rocksdb.estimate-pending-compaction-bytes")); });
  metrics.AddGauge("streetwise_notify_in_flight", "Notification transfers (webhook, SMTP) running now",
                   [&dispatcher] { return static_cast<double>(dispatcher.Stats().in_flight); });
  metrics.AddGauge("streetwise_notify_delivered", "Remote notification deliveries that succeeded since start",
                   [&dispatcher] { return static_cast<double>(dispatcher.Stats().delivered); });
  metrics.AddGauge("streetwise_notify_retried", "Failed delivery attempts rescheduled since start",
                   [&dispatcher] { return static_cast<double>(dispatcher.Stats().retried); });
  metrics.AddGauge("streetwise_notify_dead", "Deliveries parked as dead since start",
                   [&dispatcher] { return static_cast<double>(dispatcher.Stats().dead); });
  metrics.AddGauge("streetwise_outbox_depth",
                   "Outbox entries: notifications not yet expanded and deliveries pending or awaiting a retry "
                   "(exact, counted every few seconds)",
                   [&dispatcher] { return static_cast<double>(dispatcher.Stats().outbox_depth); });
  auto channel_totals = [&dispatcher](bool failures) {
    server::Metrics::LabelledTotals out;
    for (const auto& [channel, n] : dispatcher.Stats().channels) {
      out.emplace_back(channel, static_cast<double>(failures ? n.failures : n.attempts));
    }
    return out;
  };
  metrics.AddCounters("streetwise_delivery_attempts_total",
                      "Remote notification delivery attempts whose outcome was recorded, by channel",
                      "channel", [channel_totals] { return channel_totals(false); });
  metrics.AddCounters("streetwise_delivery_failures_total",
                      "Delivery attempts that failed (retry scheduled or parked as dead), by channel", "channel",
                      [channel_totals] { return channel_totals(true); });
  metrics.AddGauge("streetwise_notify_lag_events", "Change-log events the notification trigger has not read yet",
                   [&db, &dispatcher] {
                     auto head = db.VisibleHead(), pos = dispatcher.Stats().consumed_seq;
                     return static_cast<double>(head > pos ? head - pos : 0);
                   });
  server::HttpServer http(config, api, metrics);
  auto port = http.Bind();
  if (!port) {
    spdlog::critical("{}", port.error().detail);
    return 1;
  }
  std::string address = fmt::format("{}:{}", config.listen_host, *port);
  if (!WriteFileAtomically(config.data_dir / "listen-address", address + "\n", 0644)) {
    spdlog::critical("cannot write {}", (config.data_dir / "listen-address").string());
    return 1;
  }
  http.OnSignal([&ready, &inbox_hub] {
    ready.store(false);
    inbox_hub.WakeAll();  // live notification streams notice and end
  });
  ready.store(true);
  spdlog::info("streetwise listening on http://{} (data {}, durability {})", address, config.data_dir.string(),
               config.durability == storage::Durability::kFsync ? "fsync" : "os");
  http.Run();

  // Reverse order of construction: finish blocking work, then flush and close the store.
  pool.Stop();
  dispatcher.Stop();
  routing.Stop();
  insights.Stop();
  (*index)->Stop();
  if (auto st = (*store)->Flush(); !st) spdlog::error("flush on shutdown failed: {}", st.error().cause);
  std::filesystem::remove(config.data_dir / "listen-address");
  spdlog::info("shut down cleanly");
  return 0;
}

// "\r[#########           ] 45%  12,345/27,000 threads  5,123/s"
void PrintProgress(std::uint64_t done, std::uint64_t total, double seconds) {
  constexpr int kWidth = 30;
  double frac = total ? std::min(1.0, static_cast<double>(done) / static_cast<double>(total)) : 0.0;
  int filled = static_cast<int>(frac * kWidth);
  double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
  std::fprintf(stderr, "\r[%s%s] %3d%%  %llu/%llu threads  %.0f/s   ", std::string(filled, '#').c_str(),
               std::string(kWidth - filled, ' ').c_str(), static_cast<int>(frac * 100),
               static_cast<unsigned long long>(done), static_cast<unsigned long long>(total), rate);
  std::fflush(stderr);
}

// Rebuilds through the running server (which keeps answering from the old index meanwhile).
int ReindexOnline(const std::string& address, const std::string& token) {
  auto started = server::AdminRequest(address, "POST", "/v1/admin/reindex", token);
  if (!started) return -1;  // not reachable: the caller falls back to offline
  if (started->status == 401 || started->status == 403) {
    std::fprintf(stderr, "streetwise: the server at %s refused the root token; set STREETWISE_ROOT_TOKEN\n",
                 address.c_str());
    return 1;
  }
  if (started->status != 202 && started->status != 409) {
    std::fprintf(stderr, "streetwise: reindex request failed (%d): %s\n", started->status, started->body.c_str());
    return 1;
  }
  for (;;) {
    auto st = server::AdminRequest(address, "GET", "/v1/admin/reindex", token);
    if (!st || st->status != 200) {
      std::fprintf(stderr, "\nstreetwise: lost contact with the server while reindexing\n");
      return 1;
    }
    auto status = boost::json::parse(st->body).as_object();
    std::string state(status.at("state").as_string());
    PrintProgress(status.at("done").to_number<std::uint64_t>(), status.at("total").to_number<std::uint64_t>(),
                  status.at("seconds").to_number<double>());
    if (state == "done") {
      std::fprintf(stderr, "\nreindex done\n");
      return 0;
    }
    if (state == "failed") {
      std::fprintf(stderr, "\nreindex failed: %s\n", boost::json::serialize(status.at("error")).c_str());
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

int ReindexOffline(const server::Config& config) {
  // Opening a data dir without an index builds one; rebuilding right after would do it twice.
  bool had_index = std::filesystem::exists(config.data_dir / "index" / "CURRENT");
  auto store = storage::Store::Open(config.data_dir / "db", storage::StoreOptions{config.durability});
  if (!store) {
    std::fprintf(stderr, "streetwise: cannot open %s: %s\n", config.data_dir.c_str(), store.error().detail.c_str());
    return 1;
  }
  auto index = indexer::SearchIndex::Open(config.data_dir / "index", **store, indexer::IndexOptions{});
  if (!index) {
    std::fprintf(stderr, "streetwise: cannot open the index: %s\n", index.error().cause.c_str());
    return 1;
  }
  if (!had_index) {
    std::fprintf(stderr, "built the search index (there was none)\n");
    return 0;
  }
  auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  auto n = (*index)->Rebuild([&](std::uint64_t done, std::uint64_t total) { PrintProgress(done, total, elapsed()); });
  if (!n) {
    std::fprintf(stderr, "\nreindex failed: %s\n", n.error().cause.c_str());
    return 1;
  }
  PrintProgress(*n, *n, elapsed());
  std::fprintf(stderr, "\nreindexed %llu threads in %.1f s\n", static_cast<unsigned long long>(*n), elapsed());
  return 0;
}

int Reindex(const server::Config& config) {
  std::ifstream addr_file(config.data_dir / "listen-address");
  std::string address;
  if (addr_file >> address) {
    int rc = ReindexOnline(address, config.root_token);
    if (rc >= 0) return rc;
  }
  return ReindexOffline(config);
}

}  // namespace

int main(int argc, char** argv) {
  server::SetUpLogging("info");

  CLI::App app{"streetwise: the field sales question-and-answer knowledge base"};
  app.require_subcommand(1);
  auto* serve = app.add_subcommand("serve", "Run the HTTP server");
  std::string data_dir, listen, config_file, durability;
  serve->add_option("--data", data_dir, "Data directory (default ./data)");
  serve->add_option("--listen", listen, "Listen address HOST:PORT (default 127.0.0.1:8080; port 0 = any free port)");
  serve->add_option("--config", config_file, "TOML configuration file");
  serve->add_option("--durability", durability, "fsync (default) or os");
  auto* reindex = app.add_subcommand(
      "reindex", "Rebuild the search index from RocksDB (through the running server if there is one)");
  reindex->add_option("--data", data_dir, "Data directory (default ./data)");
  reindex->add_option("--config", config_file, "TOML configuration file");
  auto* bulk = app.add_subcommand("bulk-load", "Import threads from a JSON Lines file (server stopped)");
  std::string bulk_file;
  bulk->add_option("--data", data_dir, "Data directory (default ./data)");
  bulk->add_option("--config", config_file, "TOML configuration file");
  bulk->add_option("file", bulk_file, "JSON Lines file, one thread per line")->required();

  // Operator commands: backup/restore, export/import of one organisation, config show.
  auto* backup_cmd = app.add_subcommand(
      "backup", "Back up the database into DIR (through the running server if there is one, else directly)");
  std::string backup_dir;
  backup_cmd->add_option("dir", backup_dir, "Backup directory: missing or empty")->required();
  backup_cmd->add_option("--data", data_dir, "Data directory (default ./data)");
  backup_cmd->add_option("--config", config_file, "TOML configuration file");
  auto* restore_cmd = app.add_subcommand("restore", "Restore a backup into the data directory (server stopped)");
  std::string restore_dir;
  bool restore_force = false;
  restore_cmd->add_option("backup", restore_dir, "Backup directory written by 'streetwise backup'")->required();
  restore_cmd->add_option("--data", data_dir, "Data directory to restore into (default ./data)");
  restore_cmd->add_option("--config", config_file, "TOML configuration file");
  restore_cmd->add_flag("--force", restore_force, "Replace the database of a non-empty data directory");
  auto* export_cmd = app.add_subcommand("export", "Export one organisation as JSON Lines (server stopped)");
  std::string export_org, export_out;
  export_cmd->add_option("--org", export_org, "Organisation id")->required();
  export_cmd->add_option("--out", export_out, "Output file (.jsonl; '-' = stdout)")->required();
  export_cmd->add_option("--data", data_dir, "Data directory (default ./data)");
  export_cmd->add_option("--config", config_file, "TOML configuration file");
  auto* import_cmd =
      app.add_subcommand("import", "Import an exported organisation as a new organisation (server stopped)");
  std::string import_file;
  import_cmd->add_option("file", import_file, "File written by 'streetwise export'")->required();
  import_cmd->add_option("--data", data_dir, "Data directory (default ./data)");
  import_cmd->add_option("--config", config_file, "TOML configuration file");
  auto* config_cmd = app.add_subcommand("config", "Inspect the configuration");
  config_cmd->require_subcommand(1);
  auto* show_cmd = config_cmd->add_subcommand("show", "Print the effective configuration as TOML (secrets masked)");
  show_cmd->add_option("--config", config_file, "TOML configuration file");
  show_cmd->add_option("--data", data_dir, "Data directory");
  show_cmd->add_option("--listen", listen, "Listen address HOST:PORT");
  show_cmd->add_option("--durability", durability, "fsync or os");
  CLI11_PARSE(app, argc, argv);

  bool operator_cmd = backup_cmd->parsed() || restore_cmd->parsed() || export_cmd->parsed() || import_cmd->parsed() ||
                      show_cmd->parsed();
  if (serve->parsed() || reindex->parsed() || bulk->parsed() || operator_cmd) {
    server::Config config;
    auto fail = [](const core::Error& e) {
      std::cerr << "streetwise: configuration error: " << e.detail << "\n";
      return 2;
    };
    if (!config_file.empty()) {
      if (auto st = server::LoadConfigFile(config_file, config); !st) return fail(st.error());
    }
    if (auto st = server::ApplyEnvironment(config); !st) return fail(st.error());
    if (!data_dir.empty()) config.data_dir = data_dir;
    if (!listen.empty()) {
      if (auto st = server::ParseListen(listen, config); !st) return fail(st.error());
    }
    if (!durability.empty()) {
      if (auto st = server::ParseDurability(durability, config); !st) return fail(st.error());
    }
    if (reindex->parsed()) return Reindex(config);
    if (bulk->parsed()) return server::BulkLoad(config, bulk_file);
    if (backup_cmd->parsed()) return server::Backup(config, backup_dir);
    if (restore_cmd->parsed()) return server::Restore(config, restore_dir, restore_force);
    if (export_cmd->parsed()) return server::ExportOrg(config, export_org, export_out);
    if (import_cmd->parsed()) return server::ImportOrg(config, import_file);
    if (show_cmd->parsed()) {
      std::fputs(server::FormatConfigToml(config).c_str(), stdout);
      return 0;
    }
    return Serve(std::move(config));
  }
  return 0;
}
