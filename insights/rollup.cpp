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

}  // namespace streetwise::insights
