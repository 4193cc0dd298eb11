// Search queries: bytes -> indexer::mapping::BuildUserQuery (QueryParser from ConfigureParser) and
// -> indexer::SearchIndex::Search over a small seeded three-tenant index (real RocksDB + Xapian in
// a scratch directory).
//
// Input (FuzzedDataProvider): tenant, sort, paging and optional filters first, the query text last.
// Properties: no crash, no sanitizer report and no exception (BuildUserQuery must never throw,
// whatever the bytes); the restricted query's root is OP_FILTER(user query, org term); for input
// the API accepts (valid UTF-8, <= 1000 bytes, normalised tags, known kind/status), Search
// succeeds, returns only the caller's tenant's threads, and every snippet and suggestion is valid
// UTF-8.
#include <fuzzer/FuzzedDataProvider.h>
#include <xapian.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include "core/model.hpp"
#include "core/validation.hpp"
#include "fuzz_support.hpp"
#include "indexer/search_index.hpp"
#include "indexer/xapian_mapping.hpp"
#include "service/account_service.hpp"
#include "service/thread_service.hpp"
#include "storage/store.hpp"

namespace {
using namespace streetwise;
namespace mapping = indexer::mapping;

class FixedClock final : public core::Clock {
 public:
  core::TimePoint Now() const override { return core::FromUnixMillis(1'780'000'000'000); }
};

constexpr std::size_t kTenants = 3;

// Three organisations whose threads share vocabulary, so a leak across tenants would show.
struct World {
  std::filesystem::path dir = fuzz::MakeScratchDir("fuzz-search");
  FixedClock clock;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<service::AccountService> accounts;
  std::unique_ptr<service::ThreadService> threads;
  std::unique_ptr<indexer::SearchIndex> index;
  std::array<std::string, kTenants> org_ids;
  std::array<std::set<std::string>, kTenants> thread_ids;

  World() {
    auto s = storage::Store::Open(dir / "db", storage::StoreOptions{storage::Durability::kOs});
    if (!s) fuzz::Fail("Store::Open", s.error().cause);
    store = std::move(s).value();
    accounts = std::make_unique<service::AccountService>(*store, clock);
    threads = std::make_unique<service::ThreadService>(*store, clock);
    auto idx = indexer::SearchIndex::Open(dir / "index", *store, indexer::IndexOptions{std::chrono::milliseconds(5)});
    if (!idx) fuzz::Fail("SearchIndex::Open", idx.error().cause);
    index = std::move(idx).value();
    index->Start();

    static const char* kTitles[] = {
        "Oracle pricing for the public sector",
        "Does SSO work with Azure AD?",
        "Complaint: invoices arrive late in EMEA",
        "Tip: export the pipeline report to CSV",
        "Ünïcödé títlé with 日本語 and emoji 😀 pricing",
    };
    static const char* kBodies[] = {
        "The customer asks whether *Oracle* discounts apply. Pricing, discounts, licences.",
        "SAML and OIDC single sign-on; the customer's identity provider is Azure AD.",
        "Invoices for EMEA accounts are late by a week. Finance escalated. Pricing impact?",
        "Use the export button; CSV opens in Excel. <b>bold</b> & <script>alert(1)</script>",
        "Ça coûte combien ? 価格はいくらですか。 Ценообразование. 😀😀😀 repeated text so the snippet "
        "generator has to cut somewhere in the middle of a multi-byte sequence: ééééééééééééééééé"
        "ééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé",
    };
    static const char* kTags[][2] = {{"oracle", "pricing"}, {"sso", "azure-ad"}, {"invoices", "emea"},
                                     {"csv", "reports"}, {"unicode", "pricing"}};
    std::uint64_t last_seq = 0;
    for (std::size_t t = 0; t < kTenants; ++t) {
      auto org = accounts->CreateOrg("org" + std::to_string(t), "admin", std::nullopt);
      if (!org) fuzz::Fail("CreateOrg", org.error().detail);
      service::Caller caller{org->value.admin, org->value.token.token.id};
      org_ids[t] = caller.org_id();
      for (std::size_t i = 0; i < std::size(kTitles); ++i) {
        service::NewThreadInput in;
        in.title = std::string(kTitles[i]) + " " + std::to_string(t);
        in.body = kBodies[i];
        in.tags = {kTags[i][0], kTags[i][1]};
        in.kind = static_cast<core::ThreadKind>(i % 4);
        in.deal.account = "Acme " + std::to_string(t);
        in.deal.region = i % 2 ? "EMEA" : "APAC";
        in.deal.product = "Suite";
        auto w = threads->Create(caller, in, std::nullopt);
        if (!w) fuzz::Fail("Create", w.error().detail);
        thread_ids[t].insert(w->value.id);
        last_seq = w->seq;
      }
    }
    if (!index->WaitForSeq(last_seq, std::chrono::seconds(30))) fuzz::Fail("the seed threads were never indexed");
  }
};

World& TheWorld() {
  static World* world = new World();  // process lifetime; the index thread keeps running
  return *world;
}

std::optional<std::string> MaybeString(FuzzedDataProvider& in) {
  if (!in.ConsumeBool()) return std::nullopt;
  return in.ConsumeRandomLengthString(40);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  TheWorld();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  World& world = TheWorld();
  FuzzedDataProvider in(data, size);
  std::size_t tenant = in.ConsumeIntegralInRange<std::size_t>(0, kTenants - 1);
  indexer::SearchRequest r;
  r.org_id = world.org_ids[tenant];
  r.sort = static_cast<indexer::SortOrder>(in.ConsumeIntegralInRange<int>(0, 2));
  r.offset = in.ConsumeIntegralInRange<std::size_t>(0, 20);
  r.limit = in.ConsumeIntegralInRange<std::size_t>(1, 100);
  bool api_valid = true;  // would the API let this request through to the index?
  std::size_t ntags = in.ConsumeIntegralInRange<std::size_t>(0, 2);
  for (std::size_t i = 0; i < ntags; ++i) {
    auto tag = core::NormaliseTag(in.ConsumeRandomLengthString(40));
    if (tag) r.tags.push_back(*tag);
  }
  if (auto k = MaybeString(in)) {
    r.kind = *k;
    api_valid = api_valid && core::ParseThreadKind(*k).has_value();
  }
  if (auto s = MaybeString(in)) {
    r.status = *s;
    api_valid = api_valid && core::ParseThreadStatus(*s).has_value();
  }
  r.author_id = MaybeString(in);
  r.account = MaybeString(in);
  r.region = MaybeString(in);
  r.product = MaybeString(in);
  r.q = in.ConsumeRemainingBytesAsString();
  api_valid = api_valid && r.q.size() <= 1000 && core::IsValidUtf8(r.q);

  // 1. The query builder on raw bytes: no exception may escape, and the tenant restriction is
  //    structural whatever the text says.
  Xapian::QueryParser qp;
  mapping::ConfigureParser(qp);
  bool fell_back = false;
  Xapian::Query user = mapping::BuildUserQuery(r, qp, fell_back);
  Xapian::Query restricted = mapping::RestrictToOrg(user, r.org_id);
  FUZZ_CHECK(restricted.get_type() == Xapian::Query::OP_FILTER, restricted.get_description());
  FUZZ_CHECK(restricted.get_num_subqueries() == 2, restricted.get_description());
  Xapian::Query org = restricted.get_subquery(1);
  FUZZ_CHECK(org.get_type() == Xapian::Query::LEAF_TERM, org.get_description());
  FUZZ_CHECK(*org.get_terms_begin() == mapping::OrgTerm(r.org_id), org.get_description());

  // 2. The real search, for what the API would pass on.
  if (!api_valid) return 0;
  auto res = world.index->Search(r);
  if (!res) fuzz::Fail("Search failed", res.error().detail + " / " + res.error().cause);
  for (const auto& hit : res->results) {
    FUZZ_CHECK(world.thread_ids[tenant].count(hit.thread_id) == 1, "hit from another tenant: " + hit.thread_id);
    FUZZ_CHECK(core::IsValidUtf8(hit.snippet), hit.snippet);
    FUZZ_CHECK(core::IsValidUtf8(hit.title), hit.title);
  }
  if (res->did_you_mean) FUZZ_CHECK(core::IsValidUtf8(*res->did_you_mean), *res->did_you_mean);
  return 0;
}
