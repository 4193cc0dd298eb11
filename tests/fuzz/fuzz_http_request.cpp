// The HTTP request path: bytes -> Beast's request parser with the server's limits (16 KiB of
// headers, 1 MiB of body, a fresh parser per request, up to 8 pipelined requests) -> the same
// Beast-to-api::Request conversion as server/http_server.cpp -> api::Api::Handle on a real API
// whose services use a real Store and search index in a scratch directory (wired as in
// server/main.cpp).
//
// To let the fuzzer past authentication and id lookups, the harness substitutes a few
// placeholders (see tests/fuzz/corpus/http_request/ for examples):
//   Authorization: Bearer admin|member|root   -> the bootstrap admin's, a member's or the root token
//   {thread} {answer} {user} {token} in the target -> ids of seeded objects
//
// Properties: no crash, sanitizer report or escaping exception; no 5xx but 503 for any request; every
// response header is a token name with a value free of CR, LF and NUL (no response splitting);
// a JSON or problem+json body parses as valid UTF-8 JSON (problem details echo percent-decoded
// bytes of the path and query, repaired by api/problem.cpp: GET /%FF -> "instance":"/%FF"), and
// an error body is a problem object with a matching status; the response serialises through Beast.
//
// FUZZ_STRICT_UTF8=0 accepts JSON bodies with invalid UTF-8 (to look for other findings while a
// regression of that is open).
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "api/api.hpp"
#include "api/json_body.hpp"
#include "core/clock.hpp"
#include "fuzz_support.hpp"
#include "indexer/search_index.hpp"
#include "net/blocking_pool.hpp"
#include "schemas/openapi.hpp"
#include "server/config.hpp"
#include "service/account_service.hpp"
#include "service/reindex_job.hpp"
#include "service/search_service.hpp"
#include "service/thread_service.hpp"
#include "storage/store.hpp"

namespace {
using namespace streetwise;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

constexpr int kMaxPipelined = 8;
const std::string kRootToken = "root-fuzz-token-0123456789";

bool StrictUtf8() {
  static const bool strict = [] {
    const char* v = std::getenv("FUZZ_STRICT_UTF8");
    return v == nullptr || std::string_view(v) != "0";
  }();
  return strict;
}

// The server's wiring (server/main.cpp) over a scratch directory, plus a few seeded objects.
struct World {
  std::filesystem::path dir = fuzz::MakeScratchDir("fuzz-http");
  server::Config config;  // the limits the server applies by default
  core::SystemClock clock;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<service::AccountService> accounts;
  std::unique_ptr<service::ThreadService> threads;
  std::unique_ptr<indexer::SearchIndex> index;
  std::unique_ptr<service::SearchService> search;
  std::unique_ptr<service::ReindexJob> reindex;
  std::unique_ptr<api::RequestSchemas> schemas;
  std::unique_ptr<net::BlockingPool> pool;
  std::atomic<bool> ready{true};
  std::unique_ptr<api::Api> api;
  std::string admin_secret, member_secret;
  std::string thread_id, answer_id, user_id, token_id;

  World() {
    spdlog::set_level(spdlog::level::off);  // 4xx/5xx logging would drown the fuzzer's output
    auto s = storage::Store::Open(dir / "db", storage::StoreOptions{storage::Durability::kOs});
    if (!s) fuzz::Fail("Store::Open", s.error().cause);
    store = std::move(s).value();
    accounts = std::make_unique<service::AccountService>(*store, clock);
    threads = std::make_unique<service::ThreadService>(*store, clock);
    auto boot = accounts->BootstrapIfEmpty([](const std::string&) { return true; });
    if (!boot || !*boot) fuzz::Fail("BootstrapIfEmpty");
    const auto& created = **boot;
    admin_secret = created.token.secret;
    user_id = created.admin.id;
    token_id = created.token.token.id;
    service::Caller admin{created.admin, created.token.token.id};

    auto idx = indexer::SearchIndex::Open(dir / "index", *store, indexer::IndexOptions{});
    if (!idx) fuzz::Fail("SearchIndex::Open", idx.error().cause);
    index = std::move(idx).value();
    index->Start();
    search = std::make_unique<service::SearchService>(*store, *index, clock);
    reindex = std::make_unique<service::ReindexJob>(*index);
    schemas = std::make_unique<api::RequestSchemas>(schemas::OpenApiJson());
    pool = std::make_unique<net::BlockingPool>(2);

    service::NewUserInput member_in;
    member_in.name = "member";
    auto member = accounts->CreateUser(admin, member_in);
    if (!member) fuzz::Fail("CreateUser", member.error().detail);
    auto member_token = accounts->IssueToken(admin, member->value.id, "fuzz");
    if (!member_token) fuzz::Fail("IssueToken", member_token.error().detail);
    member_secret = member_token->value.secret;
    service::Caller member_caller{member->value, member_token->value.token.id};

    service::NewThreadInput in;
    in.title = "Seeded thread about Oracle pricing";
    in.body = "Does the *discount* apply?";
    in.tags = {"oracle", "pricing"};
    auto t = threads->Create(admin, in, std::nullopt);
    if (!t) fuzz::Fail("Create", t.error().detail);
    thread_id = t->value.id;
    auto a = threads->AddAnswer(member_caller, thread_id, "Yes, 10% for the public sector.");
    if (!a) fuzz::Fail("AddAnswer", a.error().detail);
    answer_id = a->value.id;

    api::ApiDeps deps;
    deps.accounts = accounts.get();
    deps.threads = threads.get();
    deps.search = search.get();
    deps.reindex = reindex.get();
    deps.pool = pool.get();
    deps.schemas = schemas.get();
    deps.root_token = kRootToken;
    deps.ready = &ready;
    api = std::make_unique<api::Api>(std::move(deps));
  }
};

World& TheWorld() {
  static World* world = new World();  // process lifetime: the index and pool threads keep running
  return *world;
}

void ReplaceAll(std::string& s, std::string_view from, const std::string& to) {
  for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
}

bool IsTokenChar(unsigned char c) {
  return std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

// The conversion server/http_server.cpp's Session performs, plus the harness placeholders.
api::Request ToApiRequest(http::request<http::string_body>& msg, const World& w) {
  api::Request req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  ReplaceAll(req.target, "{thread}", w.thread_id);
  ReplaceAll(req.target, "{answer}", w.answer_id);
  ReplaceAll(req.target, "{user}", w.user_id);
  ReplaceAll(req.target, "{token}", w.token_id);
  req.body = std::move(msg.body());
  req.remote_address = "127.0.0.1:40000";
  req.request_id = "fuzz";
  for (const auto& f : msg) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value(f.value());
    if (name == "authorization") {
      if (value == "Bearer admin") value = "Bearer " + w.admin_secret;
      if (value == "Bearer member") value = "Bearer " + w.member_secret;
      if (value == "Bearer root") value = "Bearer " + kRootToken;
    }
    req.headers.emplace_back(std::move(name), std::move(value));
  }
  return req;
}

void CheckResponse(const api::Request& req, const api::Response& resp) {
  std::string ctx = req.method + " " + req.target + " -> " + std::to_string(resp.status) + ": " + resp.body;
  // 503 is "temporarily unavailable", not a fault (the integration suite's rule too); it is also
  // what operator jobs this harness leaves unwired (e.g. backups, which write to a client-chosen
  // path) answer.
  FUZZ_CHECK(resp.status >= 200 && (resp.status < 500 || resp.status == 503), ctx);
  for (const auto& [name, value] : resp.headers) {
    FUZZ_CHECK(!name.empty() && std::all_of(name.begin(), name.end(), [](char c) { return IsTokenChar(c); }),
               "bad header name '" + name + "' in " + ctx);
    FUZZ_CHECK(value.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos,
               "CR, LF or NUL in header " + name + " in " + ctx);
  }
  bool json = resp.content_type == "application/json" || resp.content_type == "application/problem+json";
  if (json && !resp.body.empty()) {
    boost::json::parse_options opts;
    opts.allow_invalid_utf8 = !StrictUtf8();
    boost::system::error_code ec;
    auto v = boost::json::parse(resp.body, ec, {}, opts);
    FUZZ_CHECK(!ec, "body is not JSON (" + ec.message() + ") in " + ctx);
    if (resp.status >= 400) {
      FUZZ_CHECK(resp.content_type == "application/problem+json", ctx);
      auto* status = v.is_object() ? v.get_object().if_contains("status") : nullptr;
      FUZZ_CHECK(status && status->is_int64() && status->get_int64() == resp.status, ctx);
    }
  }
  // As server/http_server.cpp's ToBeast does, then serialise.
  http::response<http::string_body> res{static_cast<http::status>(resp.status), 11};
  res.set(http::field::server, "streetwise");
  if (!resp.content_type.empty()) res.set(http::field::content_type, resp.content_type);
  for (const auto& [k, v] : resp.headers) res.insert(k, v);
  if (resp.status != 204 && resp.status != 304) res.body() = resp.body;
  res.prepare_payload();
  http::response_serializer<http::string_body> sr(res);
  beast::error_code ec;
  std::size_t bytes = 0;
  while (!sr.is_done() && !ec) {
    sr.next(ec, [&](beast::error_code&, const auto& buffers) {
      std::size_t n = beast::buffer_bytes(buffers);
      bytes += n;
      sr.consume(n);
    });
  }
  FUZZ_CHECK(!ec, "serialising the response: " + ec.message());
}

api::Response Handle(World& w, api::Request req) {
  asio::io_context ioc;
  std::optional<api::Response> out;
  std::exception_ptr error;
  asio::co_spawn(ioc, w.api->Handle(std::move(req)), [&](std::exception_ptr e, api::Response r) {
    error = e;
    if (!e) out = std::move(r);
  });
  ioc.run();
  if (error) {
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      fuzz::Fail("Api::Handle threw (it must never throw)", e.what());
    }
  }
  FUZZ_CHECK(out.has_value(), "Api::Handle did not complete");
  return std::move(*out);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  TheWorld();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  World& w = TheWorld();
  asio::const_buffer rest(data, size);
  for (int i = 0; i < kMaxPipelined && rest.size() > 0; ++i) {
    http::request_parser<http::string_body> parser;  // fresh per request, as in the server
    parser.header_limit(static_cast<std::uint32_t>(w.config.max_header_bytes));
    parser.body_limit(w.config.max_body_bytes);
    parser.eager(true);
    beast::error_code ec;
    while (!parser.is_done()) {
      std::size_t n = rest.size() > 0 ? parser.put(rest, ec) : 0;
      rest += n;
      // need_more: the parser needs more than the input holds. The whole input is here, so the
      // client is done. (Beast requires the next put after need_more to bring new bytes, as the
      // server's reads always do; putting the same bytes again trips its assertions.)
      if (ec == http::error::need_more || (!ec && n == 0)) {
        ec = {};
        parser.put_eof(ec);
        break;
      }
      if (ec) break;
    }
    if (ec || !parser.is_done()) return 0;  // the server answers 400/413/431 and closes
    auto& msg = parser.get();
    bool keep_alive = msg.keep_alive();
    api::Request req = ToApiRequest(msg, w);
    api::Request logged{req.method, req.target, {}, {}, req.request_id, req.remote_address};
    api::Response resp = Handle(w, std::move(req));
    CheckResponse(logged, resp);
    if (!keep_alive) return 0;
  }
  return 0;
}
