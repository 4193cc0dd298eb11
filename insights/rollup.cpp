#include "insights/rollup.hpp"

namespace streetwise::insights {

namespace {

void PutVarint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

bool GetVarint(std::string_view& in, std::uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in.empty()) return false;
    auto byte = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    v |= static_cast<std::uint64_t>(byte & 0x7F) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

std::uint64_t ZigZag(std::int64_t v) { return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63); }
std::int64_t UnZigZag(std::uint64_t v) { return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1); }

}  // namespace

void Rollup::Add(std::uint32_t field, std::int64_t delta) {
  if (delta == 0) return;
  auto& v = fields_[field];
  v += delta;
  if (v == 0) fields_.erase(field);
}

std::int64_t Rollup::Get(std::uint32_t field) const {
  auto it = fields_.find(field);
  return it == fields_.end() ? 0 : it->second;
}

void Rollup::Merge(const Rollup& other) {
  for (const auto& [f, v] : other.fields_) Add(f, v);
}

void Rollup::AddHistogram(std::uint32_t base, LatencyHistogram& h) const {
  for (auto it = fields_.lower_bound(base); it != fields_.end() && it->first < base + kBucketCount; ++it) {
    h.Add(static_cast<int>(it->first - base), it->second);
  }
}

std::string Rollup::Encode() const {
  std::string out;
  out.reserve(fields_.size() * 4);
  for (const auto& [f, v] : fields_) {
    PutVarint(out, f);
    PutVarint(out, ZigZag(v));
  }
  return out;
}

std::optional<Rollup> Rollup::Decode(std::string_view bytes) {
  Rollup r;
  while (!bytes.empty()) {
    std::uint64_t f = 0, v = 0;
    if (!GetVarint(bytes, f) || !GetVarint(bytes, v) || f > UINT32_MAX) return std::nullopt;
    r.Add(static_cast<std::uint32_t>(f), UnZigZag(v));
  }
  return r;
}

bool RollupSum::AddEncoded(std::string_view bytes) {
  // Decode fully first so a corrupt value adds nothing.
  std::uint64_t pairs[2 * 512];
  std::size_t n = 0;
  std::string_view in = bytes;
  while (!in.empty()) {
    std::uint64_t f = 0, v = 0;
    if (!GetVarint(in, f) || !GetVarint(in, v) || f >= kMaxField) return false;
    if (n + 2 > std::size(pairs)) {  // unusually many fields: fall back to the map form
      auto r = Rollup::Decode(bytes);
      if (!r) return false;
      for (const auto& [field, value] : r->fields()) {
        if (field >= kMaxField) return false;
      }
      for (const auto& [field, value] : r->fields()) v_[field] += value;
      return true;
    }
    pairs[n++] = f;
    pairs[n++] = v;
  }
  for (std::size_t i = 0; i < n; i += 2) v_[pairs[i]] += UnZigZag(pairs[i + 1]);
  return true;
}

void RollupSum::Merge(const RollupSum& other) {
  for (std::uint32_t i = 0; i < kMaxField; ++i) v_[i] += other.v_[i];
}

void RollupSum::AddHistogram(std::uint32_t base, LatencyHistogram& h) const {
  for (int b = 0; b < kBucketCount && base + static_cast<std::uint32_t>(b) < kMaxField; ++b) {
    if (auto c = v_[base + static_cast<std::uint32_t>(b)]; c != 0) h.Add(b, c);
  }
}

}  // namespace streetwise::insights
