#include "storage/store.hpp"

#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/cache.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <unordered_set>

#include "storage/codec.hpp"
#include "storage/keys.hpp"

namespace streetwise::storage {
using core::Error;
using core::ErrorCode;
using core::Result;

namespace {

// Signed 64-bit add for counters, so tag counts change inside the same WriteBatch without a
// read-modify-write.
class Int64AddOperator final : public rocksdb::AssociativeMergeOperator {
 public:
  static std::int64_t Decode(const rocksdb::Slice* s) {
    if (s == nullptr || s->size() != 8) return 0;
    std::int64_t v = 0;
    std::memcpy(&v, s->data(), 8);
    return v;
  }
  static std::string Encode(std::int64_t v) {
    std::string out(8, '\0');
    std::memcpy(out.data(), &v, 8);
    return out;
  }
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value, std::string* out,
             rocksdb::Logger*) const override {
    *out = Encode(Decode(existing) + Decode(&value));
    return true;
  }
  const char* Name() const override { return "streetwise.Int64Add"; }
};

// Every family, in a fixed order; the index is the handle's position in Impl::handles.
constexpr std::array<std::string_view, 32> kFamilies{
    keys::kCfOrgs,        keys::kCfUsers,       keys::kCfTokens,      keys::kCfTokenHashes,
    keys::kCfUserTokens,  keys::kCfThreads,     keys::kCfThreadIndex, keys::kCfTagIndex,
    keys::kCfTagCounts,   keys::kCfRevisions,   keys::kCfAnswerLocator, keys::kCfVotes,
    keys::kCfIdempotency, keys::kCfChangeLog,   keys::kCfOrgEvents,   keys::kCfSuggestions,
    keys::kCfCounters,    keys::kCfExpertise, keys::kCfTagExperts, keys::kCfWatches, keys::kCfAssignments,
    keys::kCfThreadAssignments, keys::kCfUserAssignments, keys::kCfRouting, keys::kCfTimers, keys::kCfOutbox, keys::kCfInbox,
    keys::kCfWebhooks, keys::kCfDeliveries, keys::kCfInsights, keys::kCfDigestSubscriptions, keys::kCfMeta,
};

Error FromStatus(const rocksdb::Status& s, std::string_view what) {
  if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
    return Error{ErrorCode::kUnavailable, "storage is locked by another process", {}, s.ToString()};
  }
  if (s.IsBusy() || s.IsTimedOut() || s.IsTryAgain() || s.IsIncomplete()) {
    return Error{ErrorCode::kUnavailable, "storage is busy; retry", {}, fmt::format("{}: {}", what, s.ToString())};
  }
  return Error::Internal(fmt::format("{}: {}", what, s.ToString()));
}

// Tracks sequence numbers handed out but not yet committed, so readers of the change log never
// pass a gap that a slower concurrent commit is about to fill.
class SequenceTracker {
 public:
  void Reset(std::uint64_t head) {
    std::lock_guard lock(mu_);
    next_ = head + 1;
  }
  std::uint64_t Allocate(std::size_t n) {
    std::lock_guard lock(mu_);
    std::uint64_t first = next_;
    next_ += n;
    in_flight_.insert(first);
    return first;
  }
  void Done(std::uint64_t first) {
    std::lock_guard lock(mu_);
    in_flight_.erase(first);
  }
  std::uint64_t VisibleHead() const {
    std::lock_guard lock(mu_);
    return in_flight_.empty() ? next_ - 1 : *in_flight_.begin() - 1;
  }

 private:
  mutable std::mutex mu_;
  std::uint64_t next_ = 1;
  std::set<std::uint64_t> in_flight_;
};

}  // namespace

struct Store::Impl {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;  // owned; destroyed before db
  rocksdb::WriteOptions write_options;
  SequenceTracker seq;

  ~Impl() {
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
    handles.clear();
    if (db) db->Close().PermitUncheckedError();
  }

  rocksdb::ColumnFamilyHandle* Cf(std::string_view name) const {
    for (std::size_t i = 0; i < kFamilies.size(); ++i) {
      if (kFamilies[i] == name) return handles[i + 1];  // handles[0] is "default"
    }
    std::abort();  // a family name not in kFamilies is a programming error
  }

  Result<std::optional<std::string>> Get(std::string_view cf, const std::string& key) const {
    std::string value;
    auto s = db->Get(rocksdb::ReadOptions(), Cf(cf), key, &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return FromStatus(s, fmt::format("get {}", cf));
    return std::optional<std::string>(std::move(value));
  }

  template <class T, class DecodeFn>
  Result<T> GetDecoded(std::string_view cf, const std::string& key, std::string_view what, DecodeFn decode) const {
    auto v = Get(cf, key);
    if (!v) return v.take_error();
    if (!v->has_value()) return Error::Make(ErrorCode::kNotFound, fmt::format("{} not found", what));
    return decode(**v);
  }

  // Visits keys under `prefix` in order (forward) or reverse, starting strictly after `after`
  // (a key suffix) when given. `visit(key_suffix, value)` returns false to stop.
  template <class Visit>
  core::Status Scan(std::string_view cf, const std::string& prefix, const std::optional<std::string>& after,
                    bool reverse, Visit visit) const {
    rocksdb::ReadOptions ro;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, Cf(cf)));
    if (!reverse) {
      if (after) {
        std::string start = prefix + *after;
        it->Seek(start);
        if (it->Valid() && it->key() == start) it->Next();
      } else {
        it->Seek(prefix);
      }
    } else {
      if (after) {
        std::string start = prefix + *after;
        it->SeekForPrev(start);
        if (it->Valid() && it->key() == start) it->Prev();
      } else {
        it->SeekForPrev(prefix + "\xff\xff\xff\xff");
      }
    }
    for (; it->Valid(); reverse ? it->Prev() : it->Next()) {
      auto k = it->key();
      if (!k.starts_with(prefix)) break;
      std::string_view suffix(k.data() + prefix.size(), k.size() - prefix.size());
      if (!visit(suffix, std::string_view(it->value().data(), it->value().size()))) break;
    }
    if (!it->status().ok()) return FromStatus(it->status(), fmt::format("scan {}", cf));
    return core::OkStatus();
  }
};

// ---- Mutation -------------------------------------------------------------------------------

void Mutation::Put(std::string_view cf, std::string key, std::string value) {
  ops_.push_back(Op{cf, OpKind::kPut, std::move(key), std::move(value)});
}

void Mutation::PutOrg(const core::Org& org) { Put(keys::kCfOrgs, org.id, codec::Encode(org)); }

void Mutation::PutUser(const core::User& user) {
  Put(keys::kCfUsers, keys::Join(user.org_id, user.id), codec::Encode(user));
}

void Mutation::PutToken(const core::Token& token) {
  Put(keys::kCfTokens, token.id, codec::Encode(token));
  Put(keys::kCfTokenHashes, token.secret_sha256, token.id);
  Put(keys::kCfUserTokens, keys::Join(token.org_id, token.user_id, token.id), "");
}

void Mutation::PutThread(const core::Thread& now, const core::Thread* before) {
  Put(keys::kCfThreads, keys::Join(now.org_id, now.id), codec::Encode(now));
  Put(keys::kCfThreadIndex, keys::Join(now.org_id, now.id),
      codec::Encode(codec::ThreadIndexEntry{now.status, now.kind, now.author_id}));
  auto has = [](const std::vector<std::string>& v, const std::string& t) {
    return std::find(v.begin(), v.end(), t) != v.end();
  };
  static const std::vector<std::string> kNone;
  const auto& old_tags = before ? before->tags : kNone;
  for (const auto& t : now.tags) {
    if (has(old_tags, t)) continue;
    Put(keys::kCfTagIndex, keys::Join(now.org_id, t, now.id), "");
    ops_.push_back(Op{keys::kCfTagCounts, OpKind::kMerge, keys::Join(now.org_id, t), Int64AddOperator::Encode(1)});
  }
  for (const auto& t : old_tags) {
    if (has(now.tags, t)) continue;
    ops_.push_back(Op{keys::kCfTagIndex, OpKind::kDelete, keys::Join(now.org_id, t, now.id), ""});
    ops_.push_back(Op{keys::kCfTagCounts, OpKind::kMerge, keys::Join(now.org_id, t), Int64AddOperator::Encode(-1)});
  }
}

void Mutation::DeleteThread(const core::Thread& t) {
  auto del = [this](std::string_view cf, std::string key) {
    ops_.push_back(Op{cf, OpKind::kDelete, std::move(key), ""});
  };
  auto del_prefix = [this](std::string_view cf, const std::string& prefix) {
    // '/' + 1 == '0': the range [prefix, prefix with its trailing '/' bumped) holds exactly the prefix.
    std::string end = prefix;
    end.back() = static_cast<char>(end.back() + 1);
    ops_.push_back(Op{cf, OpKind::kDeleteRange, prefix, end});
  };
  del(keys::kCfThreads, keys::Join(t.org_id, t.id));
  del(keys::kCfThreadIndex, keys::Join(t.org_id, t.id));
  for (const auto& tag : t.tags) {
    del(keys::kCfTagIndex, keys::Join(t.org_id, tag, t.id));
    ops_.push_back(Op{keys::kCfTagCounts, OpKind::kMerge, keys::Join(t.org_id, tag), Int64AddOperator::Encode(-1)});
  }
  del_prefix(keys::kCfRevisions, keys::Join(t.org_id, t.id) + "/");
  for (const auto& a : t.answers) {
    del(keys::kCfAnswerLocator, keys::Join(t.org_id, a.id));
    del_prefix(keys::kCfVotes, keys::Join(t.org_id, a.id) + "/");
  }
}

void Mutation::PutRevision(const std::string& org_id, const std::string& thread_id, const core::Revision& rev) {
  Put(keys::kCfRevisions, keys::Join(org_id, thread_id, keys::BigEndian64(static_cast<std::uint64_t>(rev.revision))),
      codec::Encode(rev));
}

void Mutation::PutAnswerLocator(const std::string& org_id, const std::string& answer_id,
                                const std::string& thread_id) {
  Put(keys::kCfAnswerLocator, keys::Join(org_id, answer_id), thread_id);
}

void Mutation::PutVote(const std::string& org_id, const std::string& answer_id, const std::string& user_id,
                       int value) {
  auto key = keys::Join(org_id, answer_id, user_id);
  if (value == 0) {
    ops_.push_back(Op{keys::kCfVotes, OpKind::kDelete, std::move(key), ""});
  } else {
    Put(keys::kCfVotes, std::move(key), value > 0 ? "1" : "-1");
  }
}

void Mutation::PutIdempotency(const std::string& org_id, const std::string& user_id, const std::string& key_hash,
                              const IdempotencyRecord& rec) {
  // fingerprint \n status \n created_ms \n location \n body  (body last: it may contain newlines)
  std::string v = fmt::format("1\n{}\n{}\n{}\n{}\n", rec.fingerprint, rec.status, core::ToUnixMillis(rec.created_at),
                              rec.location);
  v += rec.body;
  Put(keys::kCfIdempotency, keys::Join(org_id, user_id, key_hash), std::move(v));
}

void Mutation::PutSuggestion(const core::Suggestion& s) {
  Put(keys::kCfSuggestions, keys::Join(s.org_id, s.id), codec::Encode(s));
}

void Mutation::AddToCounter(const std::string& org_id, const std::string& name, std::int64_t delta) {
  ops_.push_back(Op{keys::kCfCounters, OpKind::kMerge, keys::Join(org_id, name), Int64AddOperator::Encode(delta)});
}

void Mutation::PutRaw(std::string_view cf, std::string key, std::string value) {
  Put(cf, std::move(key), std::move(value));
}

void Mutation::DeleteRaw(std::string_view cf, std::string key) {
  ops_.push_back(Op{cf, OpKind::kDelete, std::move(key), ""});
}

void Mutation::SetMeta(std::string_view key, std::string value) {
  Put(keys::kCfMeta, std::string(key), std::move(value));
}

void Mutation::AddEvent(core::Event event) { events_.push_back(std::move(event)); }

// ---- Store ----------------------------------------------------------------------------------

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::Open(const std::filesystem::path& dir, const StoreOptions& options) {
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.IncreaseParallelism(2);
  db_options.keep_log_file_num = 5;
  // Point-in-time recovery (the default) replays the WAL up to the first torn record, which is
  // exactly the set of acknowledged writes after kill -9.
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cf_options.compression = rocksdb::kNoCompression;

  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  families.emplace_back(rocksdb::kDefaultColumnFamilyName, cf_options);
  for (auto name : kFamilies) {
    rocksdb::ColumnFamilyOptions o = cf_options;
    if (name == keys::kCfTagCounts || name == keys::kCfCounters) o.merge_operator = std::make_shared<Int64AddOperator>();
    families.emplace_back(std::string(name), o);
  }

  auto impl = std::make_unique<Impl>();
  rocksdb::DB* raw = nullptr;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Error::Internal(fmt::format("cannot create {}: {}", dir.string(), ec.message()));
  auto s = rocksdb::DB::Open(db_options, dir.string(), families, &impl->handles, &raw);
  if (!s.ok()) return FromStatus(s, fmt::format("open {}", dir.string()));
  impl->db.reset(raw);
  impl->write_options.sync = options.durability == Durability::kFsync;

  // The change-log head is the last key of change_log.
  std::uint64_t head = 0;
  {
    std::unique_ptr<rocksdb::Iterator> it(impl->db->NewIterator(rocksdb::ReadOptions(), impl->Cf(keys::kCfChangeLog)));
    it->SeekToLast();
    if (it->Valid()) head = keys::ParseBigEndian64(std::string_view(it->key().data(), it->key().size()));
    if (!it->status().ok()) return FromStatus(it->status(), "read change-log head");
  }
  impl->seq.Reset(head);
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

core::Status Store::AddOps(const Mutation& m, rocksdb::WriteBatch& batch) const {
  for (const auto& op : m.ops_) {
    auto* cf = impl_->Cf(op.cf);
    rocksdb::Status s;
    switch (op.kind) {
      case Mutation::OpKind::kPut: s = batch.Put(cf, op.key, op.value); break;
      case Mutation::OpKind::kDelete: s = batch.Delete(cf, op.key); break;
      case Mutation::OpKind::kMerge: s = batch.Merge(cf, op.key, op.value); break;
      case Mutation::OpKind::kDeleteRange: s = batch.DeleteRange(cf, op.key, op.value); break;
    }
    if (!s.ok()) return FromStatus(s, "build write batch");
  }
  return core::OkStatus();
}

core::Status Store::CommitRelaxed(Mutation&& m) {
  rocksdb::WriteBatch batch;
  if (auto st = AddOps(m, batch); !st) return st;
  if (!m.events_.empty()) return Error::Internal("CommitRelaxed cannot carry change-log events");
  rocksdb::WriteOptions wo;
  wo.sync = false;
  auto s = impl_->db->Write(wo, &batch);
  if (!s.ok()) return FromStatus(s, "commit");
  return core::OkStatus();
}

Result<core::Suggestion> Store::GetSuggestion(const std::string& org_id, const std::string& id) const {
  return impl_->GetDecoded<core::Suggestion>(keys::kCfSuggestions, keys::Join(org_id, id), "suggestion",
                                             codec::DecodeSuggestion);
}

Result<std::vector<std::pair<std::string, std::int64_t>>> Store::ListCounters(const std::string& org_id,
                                                                            const std::string& prefix) const {
  std::vector<std::pair<std::string, std::int64_t>> out;
  auto st = impl_->Scan(keys::kCfCounters, keys::OrgPrefix(org_id) + prefix, std::nullopt, false,
                        [&](std::string_view name, std::string_view value) {
                          rocksdb::Slice slice(value.data(), value.size());
                          out.emplace_back(std::string(name), Int64AddOperator::Decode(&slice));
                          return out.size() < 10000;
                        });
  if (!st) return st.take_error();
  return out;
}

Result<std::uint64_t> Store::Commit(Mutation&& m) {
  rocksdb::WriteBatch batch;
  if (auto st = AddOps(m, batch); !st) return st.take_error();
  if (m.events_.empty()) {
    auto s = impl_->db->Write(impl_->write_options, &batch);
    if (!s.ok()) return FromStatus(s, "commit");
    return impl_->seq.VisibleHead();
  }
  std::uint64_t first = impl_->seq.Allocate(m.events_.size());
  std::uint64_t seq = first;
  for (auto& e : m.events_) {
    e.seq = seq++;
    std::string value = codec::Encode(e);
    auto be = keys::BigEndian64(e.seq);
    auto s1 = batch.Put(impl_->Cf(keys::kCfChangeLog), be, value);
    auto s2 = batch.Put(impl_->Cf(keys::kCfOrgEvents), keys::Join(e.org_id, be), value);
    if (!s1.ok() || !s2.ok()) {
      impl_->seq.Done(first);
      return FromStatus(s1.ok() ? s2 : s1, "build write batch");
    }
  }
  auto s = impl_->db->Write(impl_->write_options, &batch);
  impl_->seq.Done(first);
  if (!s.ok()) return FromStatus(s, "commit");
  return seq - 1;
}

Result<std::optional<std::string>> Store::GetMeta(std::string_view key) const {
  return impl_->Get(keys::kCfMeta, std::string(key));
}

Result<core::Org> Store::GetOrg(const std::string& org_id) const {
  return impl_->GetDecoded<core::Org>(keys::kCfOrgs, org_id, "organisation", codec::DecodeOrg);
}

Result<core::User> Store::GetUser(const std::string& org_id, const std::string& user_id) const {
  return impl_->GetDecoded<core::User>(keys::kCfUsers, keys::Join(org_id, user_id), "user", codec::DecodeUser);
}

Result<Page<core::User>> Store::ListUsers(const std::string& org_id, std::optional<core::Role> role,
                                          const std::optional<std::string>& after, std::size_t limit) const {
  Page<core::User> page;
  std::optional<Error> err;
  std::string last;
  auto st = impl_->Scan(keys::kCfUsers, keys::OrgPrefix(org_id), after, false,
                        [&](std::string_view suffix, std::string_view value) {
                          if (page.items.size() == limit) {
                            page.next_key = last;
                            return false;
                          }
                          auto u = codec::DecodeUser(value);
                          if (!u) {
                            err = u.take_error();
                            return false;
                          }
                          last = std::string(suffix);
                          if (!role || u->role == *role) page.items.push_back(std::move(u).value());
                          return true;
                        });
  if (!st) return st.take_error();
  if (err) return *err;
  return page;
}

Result<core::Token> Store::GetToken(const std::string& token_id) const {
  return impl_->GetDecoded<core::Token>(keys::kCfTokens, token_id, "token", codec::DecodeToken);
}

Result<core::Token> Store::FindTokenBySecretHash(const std::string& sha256_hex) const {
  auto id = impl_->Get(keys::kCfTokenHashes, sha256_hex);
  if (!id) return id.take_error();
  if (!id->has_value()) return Error::Make(ErrorCode::kNotFound, "token not found");
  return GetToken(**id);
}

Result<std::vector<core::Token>> Store::ListTokens(const std::string& org_id, const std::string& user_id) const {
  std::vector<std::string> ids;
  auto st = impl_->Scan(keys::kCfUserTokens, keys::Join(org_id, user_id) + "/", std::nullopt, false,
                        [&](std::string_view suffix, std::string_view) {
                          ids.emplace_back(suffix);
                          return ids.size() < 1000;
                        });
  if (!st) return st.take_error();
  std::vector<core::Token> out;
  for (const auto& id : ids) {
    auto t = GetToken(id);
    if (!t) return t.take_error();
    out.push_back(std::move(t).value());
  }
  return out;
}

Result<core::Thread> Store::GetThread(const std::string& org_id, const std::string& thread_id) const {
  return impl_->GetDecoded<core::Thread>(keys::kCfThreads, keys::Join(org_id, thread_id), "thread",
                                         codec::DecodeThread);
}

Result<Page<core::Thread>> Store::ListThreads(const std::string& org_id, const ThreadFilter& filter,
                                              const std::optional<std::string>& after, std::size_t limit,
                                              std::size_t scan_budget) const {
  std::vector<std::string> ids;
  std::optional<std::string> next_key;
  std::optional<Error> err;
  std::size_t scanned = 0;
  std::string last;
  auto matches = [&](const codec::ThreadIndexEntry& e) {
    return (!filter.status || e.status == *filter.status) && (!filter.kind || e.kind == *filter.kind) &&
           (!filter.author_id || e.author_id == *filter.author_id);
  };
  auto visit = [&](std::string_view thread_id, std::string_view index_value) {
    if (ids.size() == limit || scanned == scan_budget) {
      next_key = last;
      return false;
    }
    ++scanned;
    last = std::string(thread_id);
    if (filter.tag) {  // tag_index values are empty: read the filter fields from thread_index
      if (!filter.status && !filter.kind && !filter.author_id) {
        ids.push_back(last);
        return true;
      }
      auto v = impl_->Get(keys::kCfThreadIndex, keys::Join(org_id, last));
      if (!v) {
        err = v.take_error();
        return false;
      }
      if (!v->has_value()) return true;
      auto e = codec::DecodeThreadIndexEntry(**v);
      if (!e) {
        err = e.take_error();
        return false;
      }
      if (matches(*e)) ids.push_back(last);
      return true;
    }
    auto e = codec::DecodeThreadIndexEntry(index_value);
    if (!e) {
      err = e.take_error();
      return false;
    }
    if (matches(*e)) ids.push_back(last);
    return true;
  };
  core::Status st = filter.tag
                        ? impl_->Scan(keys::kCfTagIndex, keys::Join(org_id, *filter.tag) + "/", after, true, visit)
                        : impl_->Scan(keys::kCfThreadIndex, keys::OrgPrefix(org_id), after, true, visit);
  if (!st) return st.take_error();
  if (err) return *err;

  Page<core::Thread> page;
  page.next_key = next_key;
  if (ids.empty()) return page;
  std::vector<std::string> key_strings;
  key_strings.reserve(ids.size());
  for (const auto& id : ids) key_strings.push_back(keys::Join(org_id, id));
  std::vector<rocksdb::Slice> key_slices(key_strings.begin(), key_strings.end());
  std::vector<std::string> values;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs(ids.size(), impl_->Cf(keys::kCfThreads));
  auto statuses = impl_->db->MultiGet(rocksdb::ReadOptions(), cfs, key_slices, &values);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (statuses[i].IsNotFound()) continue;
    if (!statuses[i].ok()) return FromStatus(statuses[i], "list threads");
    auto t = codec::DecodeThread(values[i]);
    if (!t) return t.take_error();
    page.items.push_back(std::move(t).value());
  }
  return page;
}

Result<std::vector<core::Revision>> Store::ListRevisions(const std::string& org_id,
                                                         const std::string& thread_id) const {
  std::vector<core::Revision> out;
  std::optional<Error> err;
  auto st = impl_->Scan(keys::kCfRevisions, keys::Join(org_id, thread_id) + "/", std::nullopt, false,
                        [&](std::string_view, std::string_view value) {
                          auto r = codec::DecodeRevision(value);
                          if (!r) {
                            err = r.take_error();
                            return false;
                          }
                          out.push_back(std::move(r).value());
                          return true;
                        });
  if (!st) return st.take_error();
  if (err) return *err;
  return out;
}

Result<Page<TagCount>> Store::ListTags(const std::string& org_id, const std::optional<std::string>& after,
                                       std::size_t limit) const {
  Page<TagCount> page;
  std::string last;
  auto st = impl_->Scan(keys::kCfTagCounts, keys::OrgPrefix(org_id), after, false,
                        [&](std::string_view tag, std::string_view value) {
                          rocksdb::Slice slice(value.data(), value.size());
                          std::int64_t n = Int64AddOperator::Decode(&slice);
                          if (n <= 0) return true;  // tags no thread uses any more
                          if (page.items.size() == limit) {
                            page.next_key = last;
                            return false;
                          }
                          last = std::string(tag);
                          page.items.push_back(TagCount{last, n});
                          return true;
                        });
  if (!st) return st.take_error();
  return page;
}

Result<std::string> Store::FindAnswerThread(const std::string& org_id, const std::string& answer_id) const {
  auto v = impl_->Get(keys::kCfAnswerLocator, keys::Join(org_id, answer_id));
  if (!v) return v.take_error();
  if (!v->has_value()) return Error::Make(ErrorCode::kNotFound, "answer not found");
  return **v;
}

Result<int> Store::GetVote(const std::string& org_id, const std::string& answer_id,
                           const std::string& user_id) const {
  auto v = impl_->Get(keys::kCfVotes, keys::Join(org_id, answer_id, user_id));
  if (!v) return v.take_error();
  if (!v->has_value()) return 0;
  return **v == "1" ? 1 : -1;
}

Result<std::optional<IdempotencyRecord>> Store::GetIdempotency(const std::string& org_id,
                                                               const std::string& user_id,
                                                               const std::string& key_hash) const {
  auto v = impl_->Get(keys::kCfIdempotency, keys::Join(org_id, user_id, key_hash));
  if (!v) return v.take_error();
  if (!v->has_value()) return std::optional<IdempotencyRecord>();
  std::string_view rest(**v);
  std::array<std::string_view, 5> fields{};
  for (auto& f : fields) {
    auto nl = rest.find('\n');
    if (nl == std::string_view::npos) return Error::Internal("corrupt idempotency record");
    f = rest.substr(0, nl);
    rest.remove_prefix(nl + 1);
  }
  if (fields[0] != "1") return Error::Internal("unknown idempotency record format");
  IdempotencyRecord rec;
  rec.fingerprint = std::string(fields[1]);
  rec.status = std::stoi(std::string(fields[2]));
  rec.created_at = core::FromUnixMillis(std::stoll(std::string(fields[3])));
  rec.location = std::string(fields[4]);
  rec.body = std::string(rest);
  return std::optional<IdempotencyRecord>(std::move(rec));
}

Result<std::vector<core::Event>> Store::ListOrgEvents(const std::string& org_id, std::uint64_t after,
                                                      std::size_t limit) const {
  std::vector<core::Event> out;
  std::optional<Error> err;
  std::uint64_t head = VisibleHead();
  auto st = impl_->Scan(keys::kCfOrgEvents, keys::OrgPrefix(org_id), keys::BigEndian64(after), false,
                        [&](std::string_view seq, std::string_view value) {
                          if (out.size() == limit || keys::ParseBigEndian64(seq) > head) return false;
                          auto e = codec::DecodeEvent(value);
                          if (!e) {
                            err = e.take_error();
                            return false;
                          }
                          out.push_back(std::move(e).value());
                          return true;
                        });
  if (!st) return st.take_error();
  if (err) return *err;
  return out;
}

Result<std::vector<core::Event>> Store::ReadChangeLog(std::uint64_t after, std::size_t limit) const {
  std::vector<core::Event> out;
  std::optional<Error> err;
  std::uint64_t head = VisibleHead();
  auto st = impl_->Scan(keys::kCfChangeLog, "", keys::BigEndian64(after), false,
                        [&](std::string_view seq, std::string_view value) {
                          if (out.size() == limit || keys::ParseBigEndian64(seq) > head) return false;
                          auto e = codec::DecodeEvent(value);
                          if (!e) {
                            err = e.take_error();
                            return false;
                          }
                          out.push_back(std::move(e).value());
                          return true;
                        });
  if (!st) return st.take_error();
  if (err) return *err;
  return out;
}

core::Status Store::ScanAllThreads(const std::function<bool(const core::Thread&)>& visit) const {
  rocksdb::ReadOptions ro;
  const rocksdb::Snapshot* snapshot = impl_->db->GetSnapshot();
  ro.snapshot = snapshot;
  std::optional<Error> err;
  {
    std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->Cf(keys::kCfThreads)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      auto t = codec::DecodeThread(std::string_view(it->value().data(), it->value().size()));
      if (!t) {
        err = t.take_error();
        break;
      }
      if (!visit(*t)) break;
    }
    if (!err && !it->status().ok()) err = FromStatus(it->status(), "scan threads");
  }
  impl_->db->ReleaseSnapshot(snapshot);
  if (err) return *err;
  return core::OkStatus();
}

struct ThreadSnapshot::Impl {
  rocksdb::DB* db = nullptr;  // the Store's; outlives the snapshot
  rocksdb::ColumnFamilyHandle* cf = nullptr;
  const rocksdb::Snapshot* snapshot = nullptr;
  std::uint64_t count = 0;

  ~Impl() {
    if (snapshot) db->ReleaseSnapshot(snapshot);
  }
  std::unique_ptr<rocksdb::Iterator> NewIterator() const {
    rocksdb::ReadOptions ro;
    ro.snapshot = snapshot;
    return std::unique_ptr<rocksdb::Iterator>(db->NewIterator(ro, cf));
  }
};

ThreadSnapshot::ThreadSnapshot(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ThreadSnapshot::~ThreadSnapshot() = default;

std::uint64_t ThreadSnapshot::Count() const { return impl_->count; }

core::Status ThreadSnapshot::Scan(std::uint64_t begin, std::uint64_t end,
                                  const std::function<bool(const core::Thread&)>& visit) const {
  auto it = impl_->NewIterator();
  std::uint64_t pos = 0;
  for (it->SeekToFirst(); it->Valid() && pos < begin; it->Next()) ++pos;  // keys only: no decoding
  for (; it->Valid() && pos < end; it->Next(), ++pos) {
    auto t = codec::DecodeThread(std::string_view(it->value().data(), it->value().size()));
    if (!t) return t.take_error();
    if (!visit(*t)) break;
  }
  if (!it->status().ok()) return FromStatus(it->status(), "scan threads");
  return core::OkStatus();
}

Result<std::unique_ptr<ThreadSnapshot>> Store::SnapshotThreads() const {
  auto impl = std::make_unique<ThreadSnapshot::Impl>();
  impl->db = impl_->db.get();
  impl->cf = impl_->Cf(keys::kCfThreads);
  impl->snapshot = impl_->db->GetSnapshot();
  auto it = impl->NewIterator();
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++impl->count;
  if (!it->status().ok()) return FromStatus(it->status(), "count threads");
  return std::unique_ptr<ThreadSnapshot>(new ThreadSnapshot(std::move(impl)));
}

std::uint64_t Store::EstimateThreadCount() const {
  std::uint64_t n = 0;
  impl_->db->GetIntProperty(impl_->Cf(keys::kCfThreads), "rocksdb.estimate-num-keys", &n);
  return n;
}

Result<std::optional<std::string>> Store::GetRaw(std::string_view cf, const std::string& key) const {
  return impl_->Get(cf, key);
}

core::Status Store::ScanRaw(std::string_view cf, const std::string& prefix, const std::optional<std::string>& after,
                            const std::function<bool(std::string_view, std::string_view)>& visit,
                            bool reverse) const {
  return impl_->Scan(cf, prefix, after, reverse, visit);
}

std::uint64_t Store::IntProperty(const std::string& name) const {
  std::uint64_t v = 0;
  if (!impl_->db->GetAggregatedIntProperty(name, &v)) {
    if (!impl_->db->GetIntProperty(name, &v)) return 0;
  }
  return v;
}

std::uint64_t Store::VisibleHead() const { return impl_->seq.VisibleHead(); }

core::Status Store::Flush() {
  auto s = impl_->db->FlushWAL(true);
  if (!s.ok()) return FromStatus(s, "sync WAL");
  rocksdb::FlushOptions fo;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs(impl_->handles.begin(), impl_->handles.end());
  s = impl_->db->Flush(fo, cfs);
  if (!s.ok()) return FromStatus(s, "flush memtables");
  return core::OkStatus();
}

// ---- Operator tools -------------------------------------------------------------------------

namespace {

// Visits every key under `prefix` of one family in key order, on a snapshot taken now, so a
// concurrent commit is either wholly visible or not at all. `visit(key_suffix, value)` returns
// false to stop.
template <class Visit>
core::Status ScanSnapshot(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf, const std::string& prefix,
                          std::string_view what, Visit visit) {
  const rocksdb::Snapshot* snapshot = db.GetSnapshot();
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  rocksdb::Status status;
  {
    std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(ro, cf));
    for (it->Seek(prefix); it->Valid(); it->Next()) {
      auto k = it->key();
      if (!k.starts_with(prefix)) break;
      if (!visit(std::string_view(k.data() + prefix.size(), k.size() - prefix.size()),
                 std::string_view(it->value().data(), it->value().size()))) {
        break;
      }
    }
    status = it->status();
  }
  db.ReleaseSnapshot(snapshot);
  if (!status.ok()) return FromStatus(status, fmt::format("scan {}", what));
  return core::OkStatus();
}

}  // namespace

Result<CheckpointInfo> Store::Checkpoint(const std::filesystem::path& dir) {
  if (!dir.is_absolute()) {
    return Error::Make(ErrorCode::kInvalidArgument, fmt::format("checkpoint path '{}' is not absolute", dir.string()));
  }
  std::error_code ec;
  if (std::filesystem::exists(dir, ec) || ec) {
    return Error::Make(ErrorCode::kConflict, fmt::format("{} already exists", dir.string()));
  }
  CheckpointInfo info;
  // Every event at or below the visible head was committed (Write returned) before this point, so
  // the synced WAL and the flush below cover it. Later commits may be in the copy too.
  info.change_log_head = VisibleHead();
  // With Durability::kOs the WAL of acknowledged commits may still be in the page cache: sync it.
  auto s = impl_->db->FlushWAL(true);
  if (!s.ok()) return FromStatus(s, "sync WAL before checkpoint");
  rocksdb::Checkpoint* raw = nullptr;
  s = rocksdb::Checkpoint::Create(impl_->db.get(), &raw);
  if (!s.ok()) return FromStatus(s, "create checkpoint object");
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // log_size_for_flush = 0: always flush the memtables first, so the copy holds SST files that
  // are consistent by themselves (plus the WAL tail RocksDB copies for writes during the flush).
  s = checkpoint->CreateCheckpoint(dir.string(), /*log_size_for_flush=*/0);
  if (!s.ok()) return FromStatus(s, fmt::format("checkpoint into {}", dir.string()));
  return info;
}

core::Status Store::ScanOrgUsers(const std::string& org_id,
                                 const std::function<bool(const core::User&)>& visit) const {
  std::optional<Error> err;
  auto st = ScanSnapshot(*impl_->db, impl_->Cf(keys::kCfUsers), keys::OrgPrefix(org_id), keys::kCfUsers,
                         [&](std::string_view, std::string_view value) {
                           auto u = codec::DecodeUser(value);
                           if (!u) {
                             err = u.take_error();
                             return false;
                           }
                           return visit(*u);
                         });
  if (!st) return st;
  if (err) return *err;
  return core::OkStatus();
}

core::Status Store::ScanOrgThreads(const std::string& org_id,
                                   const std::function<bool(const core::Thread&)>& visit) const {
  std::optional<Error> err;
  auto st = ScanSnapshot(*impl_->db, impl_->Cf(keys::kCfThreads), keys::OrgPrefix(org_id), keys::kCfThreads,
                         [&](std::string_view, std::string_view value) {
                           auto t = codec::DecodeThread(value);
                           if (!t) {
                             err = t.take_error();
                             return false;
                           }
                           return visit(*t);
                         });
  if (!st) return st;
  if (err) return *err;
  return core::OkStatus();
}

Result<std::vector<VoteEntry>> Store::ListVotes(const std::string& org_id, const std::string& answer_id) const {
  std::vector<VoteEntry> out;
  auto st = ScanSnapshot(*impl_->db, impl_->Cf(keys::kCfVotes), keys::Join(org_id, answer_id) + "/", keys::kCfVotes,
                         [&](std::string_view user_id, std::string_view value) {
                           out.push_back(VoteEntry{std::string(user_id), value == "1" ? 1 : -1});
                           return true;
                         });
  if (!st) return st.take_error();
  return out;
}

}  // namespace streetwise::storage
