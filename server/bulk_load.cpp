#include "server/bulk_load.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "service/account_service.hpp"
#include "service/thread_service.hpp"
#include "storage/store.hpp"

namespace streetwise::server {
namespace json = boost::json;

namespace {

std::optional<std::string> Opt(const json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  if (!v || !v->is_string()) return std::nullopt;
  return std::string(v->get_string());
}

}  // namespace

int BulkLoad(const Config& config, const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) {
    std::fprintf(stderr, "streetwise: cannot read %s\n", file.c_str());
    return 1;
  }
  // Acknowledgement-per-write durability is pointless for a batch job: the final Flush() makes the
  // whole load durable.
  auto store = storage::Store::Open(config.data_dir / "db", storage::StoreOptions{storage::Durability::kOs});
  if (!store) {
    std::fprintf(stderr, "streetwise: cannot open %s: %s (stop the server first)\n", config.data_dir.c_str(),
                 store.error().detail.c_str());
    return 1;
  }
  core::SystemClock clock;
  service::AccountService accounts(**store, clock);
  service::ThreadService threads(**store, clock);
  auto boot = accounts.BootstrapIfEmpty([&](const std::string& secret) {
    auto path = config.data_dir / "admin-token";
    std::ofstream(path) << secret << "\n";
    std::error_code ec;
    std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                                 ec);
    return !ec;
  });
  if (!boot) {
    std::fprintf(stderr, "streetwise: %s\n", boot.error().cause.c_str());
    return 1;
  }
  auto caller = accounts.DefaultAdmin();
  if (!caller) {
    std::fprintf(stderr, "streetwise: %s\n", caller.error().detail.c_str());
    return 1;
  }

  // Parse on this thread, commit from a few workers so RocksDB can group writes.
  std::vector<std::string> lines;
  std::string line;
  std::uint64_t loaded = 0, rejected = 0, line_no = 0;
  auto start = std::chrono::steady_clock::now();
  auto flush_batch = [&] {
    std::vector<std::thread> workers;
    std::atomic<std::uint64_t> ok{0}, bad{0};
    constexpr std::size_t kWorkers = 4;
    for (std::size_t w = 0; w < kWorkers; ++w) {
      workers.emplace_back([&, w] {
        for (std::size_t i = w; i < lines.size(); i += kWorkers) {
          json::value v;
          try {
            v = json::parse(lines[i]);
          } catch (const std::exception&) {
            ++bad;
            continue;
          }
          if (!v.is_object()) {
            ++bad;
            continue;
          }
          const auto& o = v.get_object();
          service::NewThreadInput t;
          t.title = Opt(o, "title").value_or("");
          t.body = Opt(o, "body").value_or("");
          if (auto* tags = o.if_contains("tags"); tags && tags->is_array()) {
            for (const auto& tag : tags->get_array()) {
              if (tag.is_string()) t.tags.emplace_back(tag.get_string());
            }
          }
          if (auto kind = Opt(o, "kind")) t.kind = core::ParseThreadKind(*kind).value_or(core::ThreadKind::kQuestion);
          t.deal.account = Opt(o, "account");
          t.deal.region = Opt(o, "region");
          t.deal.product = Opt(o, "product");
          t.deal.needed_by = Opt(o, "needed_by");
          if (auto* dv = o.if_contains("deal_value"); dv && dv->is_number()) t.deal.deal_value = dv->to_number<double>();
          std::vector<std::string> answers;
          if (auto* a = o.if_contains("answers"); a && a->is_array()) {
            for (const auto& body : a->get_array()) {
              if (body.is_string()) answers.emplace_back(body.get_string());
            }
          }
          std::optional<std::size_t> accepted;
          if (auto* acc = o.if_contains("accepted"); acc && acc->is_int64()) {
            accepted = static_cast<std::size_t>(acc->get_int64());
          }
          if (threads.Import(*caller, t, answers, accepted)) {
            ++ok;
          } else {
            ++bad;
          }
        }
      });
    }
    for (auto& w : workers) w.join();
    loaded += ok;
    rejected += bad;
    lines.clear();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "\rloaded %llu threads (%llu rejected)  %.0f/s   ", static_cast<unsigned long long>(loaded),
                 static_cast<unsigned long long>(rejected), secs > 0 ? loaded / secs : 0.0);
    std::fflush(stderr);
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    lines.push_back(std::move(line));
    if (lines.size() == 10000) flush_batch();
  }
  flush_batch();
  if (auto st = (*store)->Flush(); !st) {
    std::fprintf(stderr, "\nstreetwise: flush failed: %s\n", st.error().cause.c_str());
    return 1;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "\nloaded %llu threads in %.1f s (%.0f/s); %llu lines rejected\n",
               static_cast<unsigned long long>(loaded), secs, secs > 0 ? loaded / secs : 0.0,
               static_cast<unsigned long long>(rejected));
  return rejected == 0 ? 0 : 3;
}

}  // namespace streetwise::server
