#include "insights/contribution.hpp"

#include <algorithm>

namespace streetwise::insights {

namespace {

void PutLength(std::string& out, std::size_t n) {
  while (n >= 0x80) {
    out.push_back(static_cast<char>((n & 0x7F) | 0x80));
    n >>= 7;
  }
  out.push_back(static_cast<char>(n));
}

bool GetLength(std::string_view& in, std::size_t& n) {
  n = 0;
  for (int shift = 0; shift < 35; shift += 7) {
    if (in.empty()) return false;
    auto b = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    n |= static_cast<std::size_t>(b & 0x7F) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

bool GetBytes(std::string_view& in, std::string_view& out) {
  std::size_t n = 0;
  if (!GetLength(in, n) || n > in.size()) return false;
  out = in.substr(0, n);
  in.remove_prefix(n);
  return true;
}

}  // namespace

ThreadFacts FactsOf(const core::Thread& t, std::int64_t escalations) {
  ThreadFacts f;
  f.created_at = t.created_at;
  f.kind = t.kind;
  f.status = t.status;
  f.tags = t.tags;
  if (t.deal.region && !t.deal.region->empty()) f.region = t.deal.region;
  for (const auto& a : t.answers) {
    if (!f.first_answer_at || a.created_at < *f.first_answer_at) f.first_answer_at = a.created_at;
  }
  if (t.accepted_answer_id) f.accepted_at = t.accepted_at;
  f.escalations = escalations;
  return f;
}

Contributions ContributionsOf(const ThreadFacts& f) {
  Rollup r;
  r.Add(field::Threads(f.kind, f.status), 1);
  r.Add(field::kEscalations, f.escalations);
  if (f.first_answer_at) {
    r.Add(field::kFirstAnswerBase + static_cast<std::uint32_t>(BucketOf(SecondsBetween(f.created_at, *f.first_answer_at))), 1);
  }
  if (f.accepted_at) {
    r.Add(field::kAcceptedBase + static_cast<std::uint32_t>(BucketOf(SecondsBetween(f.created_at, *f.accepted_at))), 1);
  }
  auto day = DayOf(f.created_at);
  Contributions c;
  c[ThreadRollupKey("a", "*", day)] = r;
  for (const auto& tag : f.tags) c[ThreadRollupKey("t", tag, day)] = r;
  if (f.region) {
    c[ThreadRollupKey("r", *f.region, day)] = r;
    for (const auto& tag : f.tags) {
      c[ThreadRollupKey("tr", TagRegionSlice(tag, *f.region), day)] = r;
      c[ThreadRollupKey("rt", RegionTagSlice(*f.region, tag), day)] = r;
    }
  }
  return c;
}

Contributions Difference(const Contributions& now, const Contributions& before) {
  Contributions d;
  for (const auto& [key, r] : now) d[key].Merge(r);
  for (const auto& [key, r] : before) {
    for (const auto& [f, v] : r.fields()) d[key].Add(f, -v);
  }
  std::erase_if(d, [](const auto& kv) { return kv.second.empty(); });
  return d;
}

std::string EncodeContributions(const StoredContributions& s) {
  const auto& c = s.contributions;
  std::string out;
  Rollup header;
  header.Add(0, s.escalations);
  header.Add(1, s.created_ms);
  header.Add(2, s.open ? 1 : 0);
  auto h = header.Encode();
  PutLength(out, h.size());
  out += h;
  for (const auto& [key, r] : c) {
    auto bytes = r.Encode();
    PutLength(out, key.size());
    out += key;
    PutLength(out, bytes.size());
    out += bytes;
  }
  return out;
}

std::optional<StoredContributions> DecodeContributions(std::string_view in) {
  StoredContributions s;
  std::string_view header;
  if (!GetBytes(in, header)) return std::nullopt;
  auto h = Rollup::Decode(header);
  if (!h) return std::nullopt;
  s.escalations = h->Get(0);
  s.created_ms = h->Get(1);
  s.open = h->Get(2) != 0;
  while (!in.empty()) {
    std::string_view key, bytes;
    if (!GetBytes(in, key) || !GetBytes(in, bytes)) return std::nullopt;
    auto r = Rollup::Decode(bytes);
    if (!r) return std::nullopt;
    s.contributions[std::string(key)] = std::move(*r);
  }
  return s;
}

std::string DayOf(core::TimePoint t) {
  auto s = core::FormatRfc3339(t);  // YYYY-MM-DDT...
  return s.substr(0, 4) + s.substr(5, 2) + s.substr(8, 2);
}

std::int64_t SecondsBetween(core::TimePoint from, core::TimePoint to) {
  auto ms = core::ToUnixMillis(to) - core::ToUnixMillis(from);
  return ms <= 0 ? 0 : ms / 1000;
}

std::string ThreadRollupKey(std::string_view cls, std::string_view slice, std::string_view day) {
  std::string k = "r/";
  k.append(cls).append("/").append(slice).append("/").append(day);
  return k;
}

std::string ExpertRollupKey(std::string_view slice, std::string_view day, std::string_view user_id) {
  std::string k = "x/";
  k.append(slice).append("/").append(day).append("/").append(user_id);
  return k;
}

std::string RegionTagSlice(std::string_view region, std::string_view tag) {
  std::string s(region);
  s.push_back('|');
  s.append(tag);
  return s;
}

std::string TagRegionSlice(std::string_view tag, std::string_view region) {
  std::string s(tag);
  s.push_back('|');
  s.append(region);
  return s;
}

}  // namespace streetwise::insights
