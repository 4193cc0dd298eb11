// The pure insights pieces: histogram buckets and percentiles, rollup encoding, contributions and
// their differences (the heart of the incremental rollups), CSV quoting.
#include <doctest/doctest.h>

#include <cstdlib>
#include <random>

#include "insights/contribution.hpp"
#include "insights/csv.hpp"
#include "insights/histogram.hpp"
#include "insights/rollup.hpp"

namespace streetwise::insights {
namespace {

core::TimePoint At(std::int64_t unix_seconds) { return core::FromUnixMillis(unix_seconds * 1000); }

TEST_CASE("histogram buckets are exact below 64 s and within 1/64 of the value above") {
  for (std::int64_t v = 0; v < 64; ++v) CHECK(BucketValue(BucketOf(v)) == v);
  std::mt19937_64 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::int64_t v = 64 + static_cast<std::int64_t>(rng() % 4'000'000'000ULL);
    int b = BucketOf(v);
    REQUIRE(b < kBucketCount);
    CHECK(BucketLow(b) <= v);
    CHECK(v < BucketHigh(b));
    CHECK(std::llabs(BucketValue(b) - v) <= v / 64 + 1);
  }
  // Buckets tile the line: each starts where the previous ends.
  for (int b = 1; b < kBucketCount; ++b) CHECK(BucketLow(b) == BucketHigh(b - 1));
  CHECK(BucketOf(-5) == 0);
}

TEST_CASE("percentiles are nearest-rank and CountAtMost counts whole buckets exactly") {
  LatencyHistogram h;
  CHECK_FALSE(h.Percentile(0.5).has_value());
  for (std::int64_t v : {10, 30, 10800, 180000}) h.AddValue(v);
  CHECK(h.Count() == 4);
  CHECK(h.Percentile(0.5) == 30);                       // rank ceil(2) = 2nd smallest
  CHECK(std::llabs(*h.Percentile(0.9) - 180000) <= 180000 / 64);  // rank 4
  CHECK(std::llabs(*h.Percentile(0.75) - 10800) <= 10800 / 64);
  CHECK(h.CountAtMost(30) == doctest::Approx(2));
  CHECK(h.CountAtMost(86400) == doctest::Approx(3));
  CHECK(h.CountAtMost(5) == doctest::Approx(0));
  h.Add(BucketOf(30), -1);  // removing an observation (a retag moves it away)
  CHECK(h.Count() == 3);
  CHECK(h.Percentile(0.5) == BucketValue(BucketOf(10800)));
}

TEST_CASE("rollups round-trip, merge, and drop fields that reach zero") {
  Rollup r;
  r.Add(field::kEscalations, 3);
  r.Add(field::kFirstAnswerBase + 100, -2);
  r.Add(5, 1'000'000'000'000);
  auto back = Rollup::Decode(r.Encode());
  REQUIRE(back);
  CHECK(back->fields() == r.fields());
  Rollup minus;
  minus.Add(field::kEscalations, -3);
  back->Merge(minus);
  CHECK(back->Get(field::kEscalations) == 0);
  CHECK(back->fields().count(field::kEscalations) == 0);
  CHECK_FALSE(Rollup::Decode(std::string("\x80", 1)).has_value());  // truncated varint
  CHECK(Rollup::Decode("")->empty());
}

TEST_CASE("a dense rollup sum equals the merged rollups and ignores undecodable values") {
  Rollup a, b;
  a.Add(field::kEscalations, 2);
  a.Add(field::kAcceptedBase + 700, 5);
  b.Add(field::kEscalations, -1);
  b.Add(3, 9);
  RollupSum sum;
  CHECK(sum.AddEncoded(a.Encode()));
  CHECK(sum.AddEncoded(b.Encode()));
  CHECK_FALSE(sum.AddEncoded(std::string("\x05", 1)));  // truncated: nothing added
  Rollup too_big;
  too_big.Add(RollupSum::kMaxField, 1);
  CHECK_FALSE(sum.AddEncoded(too_big.Encode()));
  CHECK(sum.Get(field::kEscalations) == 1);
  CHECK(sum.Get(3) == 9);
  LatencyHistogram h;
  sum.AddHistogram(field::kAcceptedBase, h);
  CHECK(h.Count() == 5);
  CHECK(h.buckets().begin()->first == 700);
  RollupSum twice;
  twice.Merge(sum);
  twice.Merge(sum);
  CHECK(twice.Get(3) == 18);
}

ThreadFacts Facts() {
  ThreadFacts f;
  f.created_at = At(1'772'442'000);  // 2026-03-02T09:00:00Z
  f.kind = core::ThreadKind::kQuestion;
  f.status = core::ThreadStatus::kAnswered;
  f.tags = {"oracle", "pricing"};
  f.region = "EMEA";
  f.first_answer_at = At(1'772'442'000 + 30);
  return f;
}

TEST_CASE("a thread contributes to the all, tag, region and tag|region slices of its creation day") {
  auto c = ContributionsOf(Facts());
  CHECK(c.size() == 1 + 2 + 1 + 2 + 2);
  const auto& all = c.at("r/a/*/20260302");
  CHECK(all.Get(field::Threads(core::ThreadKind::kQuestion, core::ThreadStatus::kAnswered)) == 1);
  CHECK(all.Get(field::kFirstAnswerBase + static_cast<std::uint32_t>(BucketOf(30))) == 1);
  CHECK(c.count("r/t/oracle/20260302") == 1);
  CHECK(c.count("r/r/EMEA/20260302") == 1);
  CHECK(c.count("r/tr/pricing|EMEA/20260302") == 1);
  CHECK(c.count("r/rt/EMEA|pricing/20260302") == 1);
}

TEST_CASE("the difference of contributions moves a thread between slices exactly") {
  auto before = ContributionsOf(Facts());
  auto f = Facts();
  f.tags = {"oracle", "sso"};  // retagged: pricing -> sso
  f.status = core::ThreadStatus::kResolved;
  f.accepted_at = At(1'772'442'000 + 7200);
  auto after = ContributionsOf(f);
  auto d = Difference(after, before);
  CHECK(d.at("r/t/pricing/20260302").Get(field::Threads(core::ThreadKind::kQuestion, core::ThreadStatus::kAnswered)) == -1);
  CHECK(d.at("r/t/sso/20260302").Get(field::Threads(core::ThreadKind::kQuestion, core::ThreadStatus::kResolved)) == 1);
  const auto& oracle = d.at("r/t/oracle/20260302");
  CHECK(oracle.Get(field::Threads(core::ThreadKind::kQuestion, core::ThreadStatus::kAnswered)) == -1);
  CHECK(oracle.Get(field::Threads(core::ThreadKind::kQuestion, core::ThreadStatus::kResolved)) == 1);
  CHECK(oracle.Get(field::kFirstAnswerBase + static_cast<std::uint32_t>(BucketOf(30))) == 0);  // unchanged
  // Applying the same state twice changes nothing; deleting removes everything.
  CHECK(Difference(after, after).empty());
  auto gone = Difference({}, after);
  for (const auto& [key, r] : gone) {
    for (const auto& [fid, v] : r.fields()) CHECK(v == -after.at(key).Get(fid));
  }
}

TEST_CASE("stored contributions round-trip with their header") {
  StoredContributions s{ContributionsOf(Facts()), 2, 1'772'442'000'000, true};
  auto back = DecodeContributions(EncodeContributions(s));
  REQUIRE(back);
  CHECK(back->escalations == 2);
  CHECK(back->created_ms == 1'772'442'000'000);
  CHECK(back->open);
  CHECK(back->contributions.size() == s.contributions.size());
  CHECK_FALSE(DecodeContributions("\x05zz").has_value());
}

TEST_CASE("CSV quotes what needs quoting and defuses formulas") {
  auto csv = ToCsv({"a", "b"}, {{"plain", "with,comma"}, {"say \"hi\"", "line\nbreak"}, {"=SUM(A1)", "-12"}, {"-x", "@me"}});
  CHECK(csv ==
        "a,b\r\n"
        "plain,\"with,comma\"\r\n"
        "\"say \"\"hi\"\"\",\"line\nbreak\"\r\n"
        "'=SUM(A1),-12\r\n"
        "'-x,'@me\r\n");
}

}  // namespace
}  // namespace streetwise::insights
