// Operator jobs under /v1/admin/ (root token only; api.cpp enforces that for the whole prefix).
#include <fmt/format.h>

#include <chrono>
#include <cmath>

#include "api/route_context.hpp"
#include "service/backup.hpp"

namespace streetwise::api {
using core::Error;
using core::ErrorCode;
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// POST /v1/admin/backup {"path": "/abs/dir"}: a RocksDB checkpoint plus backup.json in `path` on
// the server's file system. Synchronous: answers once the backup is complete.
asio::awaitable<Response> CreateBackup(Ctx& ctx, Call& call) {
  if (!ctx.deps.backup) {
    co_return ctx.Problem(call, Error::Make(ErrorCode::kUnavailable, "backups are not available on this server"));
  }
  auto body = ctx.Body(call, "BackupRequest");
  if (!body) co_return ctx.Problem(call, body.error());
  std::string path(body->as_object().at("path").as_string());
  auto started = std::chrono::steady_clock::now();
  auto made = co_await ctx.deps.pool->Run([&] { return ctx.deps.backup->Create(path); });
  if (!made) co_return ctx.Problem(call, made.error());
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  Response r = Ctx::Json(201, json::object{{"path", path},
                                           {"version", made->version},
                                           {"format_version", made->format_version},
                                           {"created_at", core::FormatRfc3339(made->created_at)},
                                           {"change_log_head_seq", made->change_log_head},
                                           {"seconds", std::round(seconds * 1000) / 1000}});
  // Every write whose X-Change-Seq is at or below this is in the backup.
  co_return WithSeq(std::move(r), made->change_log_head);
}

}  // namespace

std::vector<Route> AdminRoutes() {
  return {
      {"POST", "/v1/admin/backup", &CreateBackup},
  };
}

}  // namespace streetwise::api
