#include "indexer/search_index.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <xapian.h>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>

#include "core/assist_pool.hpp"
#include "core/validation.hpp"
#include "indexer/match.hpp"
#include "indexer/topics.hpp"
#include "indexer/xapian_mapping.hpp"
#include "storage/store.hpp"

namespace streetwise::indexer {
using core::Error;
using core::ErrorCode;
using core::Result;
namespace fs = std::filesystem;

namespace {

constexpr const char* kAppliedSeqKey = "applied_seq";
constexpr Xapian::doccount kFacetSampleSize = 200;
constexpr std::size_t kSnippetBytes = 240;

std::atomic<std::uint64_t> g_next_instance{1};

// A result as the API shows it, from its document's data; the snippet marks `mset`'s query terms
// (Xapian::MSet::snippet flags in `snippet_flags`). The score is the caller's.
SearchHit HitFromDocument(const Xapian::Document& doc, const Xapian::MSet& mset, unsigned snippet_flags) {
  auto data = boost::json::parse(doc.get_data()).as_object();
  SearchHit hit;
  hit.thread_id = std::string(data.at("id").as_string());
  hit.title = std::string(data.at("title").as_string());
  for (const auto& t : data.at("tags").as_array()) hit.tags.emplace_back(t.as_string());
  hit.kind = std::string(data.at("kind").as_string());
  hit.status = std::string(data.at("status").as_string());
  hit.answer_count = data.at("answer_count").to_number<std::int64_t>();
  hit.accepted = data.at("accepted").as_bool();
  hit.created_at = core::FromUnixMillis(data.at("created_ms").to_number<std::int64_t>());
  hit.snippet = mset.snippet(std::string(data.at("text").as_string()), kSnippetBytes, mapping::ThreadSnippetStemmer(),
                             snippet_flags, "<mark>", "</mark>", "…");
  return hit;
}

// `request`'s query on `db`, restricted to its organisation, parsed by `qp` (configured here and
// bound to `db`, so it keeps the spelling correction of the parse). Each thread of a search builds
// its own: Xapian objects are not shared between threads.
Xapian::Query OrgQuery(const SearchRequest& request, const Xapian::Database& db, Xapian::QueryParser& qp,
                       bool& fell_back) {
  mapping::ConfigureParser(qp);
  qp.set_database(db);
  return mapping::RestrictToOrg(mapping::BuildUserQuery(request, qp, fell_back), request.org_id, db);
}

// fsyncs every file of a database directory, then the directory: a generation written with
// DB_NO_SYNC is durable before CURRENT names it.
core::Status SyncFiles(const fs::path& db_dir) {
  auto sync = [](const fs::path& p, int flags) -> bool {
    int fd = ::open(p.c_str(), flags | O_CLOEXEC);
    if (fd < 0) return false;
    bool ok = ::fsync(fd) == 0;
    ::close(fd);
    return ok;
  };
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(db_dir, ec)) {
    if (entry.is_regular_file() && !sync(entry.path(), O_RDONLY)) {
      return Error::Internal(fmt::format("fsync {}: {}", entry.path().string(), std::strerror(errno)));
    }
  }
  if (ec) return Error::Internal(fmt::format("list {}: {}", db_dir.string(), ec.message()));
  if (!sync(db_dir, O_RDONLY | O_DIRECTORY)) {
    return Error::Internal(fmt::format("fsync {}: {}", db_dir.string(), std::strerror(errno)));
  }
  return core::OkStatus();
}

}  // namespace

struct SearchIndex::Impl {
  fs::path dir;
  storage::Store& store;
  IndexOptions options;
  std::uint64_t instance = g_next_instance.fetch_add(1);

  std::mutex writer_mu;  // guards writer, and the swap in Rebuild
  std::unique_ptr<Xapian::WritableDatabase> writer;
  std::atomic<std::uint64_t> generation{0};
  std::atomic<std::uint64_t> applied{0};

  std::mutex rebuild_mu;
  std::thread tailer;
  std::atomic<bool> stopping{false};
  mutable std::mutex wait_mu;
  mutable std::condition_variable applied_cv;

  // Helpers for the parts of one search (docs/search.md, "Parallel matching").
  core::AssistPool assist;
  mutable std::atomic<std::uint64_t> split_searches{0};

  Impl(fs::path d, storage::Store& s, IndexOptions o)
      : dir(std::move(d)), store(s), options(o), assist(std::max<std::size_t>(1, o.search_threads) - 1) {}

  fs::path GenPath(std::uint64_t gen) const { return dir / fmt::format("gen-{}", gen); }

  std::uint64_t ReadCurrent() const {
    std::ifstream in(dir / "CURRENT");
    std::uint64_t gen = 0;
    if (in >> gen) return gen;
    return 0;
  }

  bool WriteCurrent(std::uint64_t gen) const {
    auto tmp = dir / "CURRENT.tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << gen << "\n";
      if (!out.flush()) return false;
    }
    std::error_code ec;
    fs::rename(tmp, dir / "CURRENT", ec);
    return !ec;
  }

  void PublishApplied(std::uint64_t seq) {
    {
      std::lock_guard lock(wait_mu);
      applied.store(seq);
    }
    applied_cv.notify_all();
  }

  // With `spelling`, every indexed word also goes into the spelling dictionary (FLAG_SPELLING).
  static Xapian::TermGenerator MakeTermGenerator(Xapian::WritableDatabase& db, bool spelling = true) {
    Xapian::TermGenerator tg;
    tg.set_stemmer(mapping::MakeIndexingStemmer());
    tg.set_stemming_strategy(Xapian::TermGenerator::STEM_SOME);
    if (spelling) {
      tg.set_database(db);
      tg.set_flags(Xapian::TermGenerator::FLAG_SPELLING);
    }
    return tg;
  }

  // Applies change-log events (seq > applied) to the writer; commits at most every
  // commit_interval. Returns false when there was nothing to read.
  bool Step(std::chrono::steady_clock::time_point& last_commit, std::uint64_t& pending) {
    std::uint64_t from = std::max(applied.load(), pending);
    std::uint64_t gen = generation.load();
    auto events = store.ReadChangeLog(from, options.batch_events);
    if (!events) {
      spdlog::error("indexer: cannot read the change log: {}", events.error().cause);
      return false;
    }
    std::lock_guard lock(writer_mu);
    if (generation.load() != gen) {
      // A rebuild swapped generations meanwhile: the new one is positioned at the rebuild's head,
      // so continue from there (events after it must be applied to the new generation too).
      pending = applied.load();
      return true;
    }
    if (!events->empty()) {
      std::set<std::pair<std::string, std::string>> touched;
      for (const auto& e : *events) {
        if (e.thread_id) touched.emplace(e.org_id, *e.thread_id);
      }
      auto tg = MakeTermGenerator(*writer);
      for (const auto& [org, id] : touched) {
        auto thread = store.GetThread(org, id);
        if (thread) {
          writer->replace_document(mapping::IdTerm(id), mapping::MapThread(*thread, tg));
        } else if (thread.error().code == ErrorCode::kNotFound) {
          writer->delete_document(mapping::IdTerm(id));
        } else {
          spdlog::error("indexer: cannot read thread {}: {}", id, thread.error().cause);
          return false;  // retry this batch on the next step
        }
      }
      pending = events->back().seq;
    }
    auto now = std::chrono::steady_clock::now();
    if (pending > applied.load() && now - last_commit >= options.commit_interval) {
      writer->set_metadata(kAppliedSeqKey, std::to_string(pending));
      writer->commit();
      last_commit = now;
      PublishApplied(pending);
    }
    return !events->empty();
  }

  void TailLoop() {
    auto last_commit = std::chrono::steady_clock::now() - options.commit_interval;
    std::uint64_t pending = applied.load();
    std::uint64_t seen_gen = generation.load();
    while (!stopping.load()) {
      if (std::uint64_t g = generation.load(); g != seen_gen) {
        seen_gen = g;
        pending = applied.load();
      }
      bool progressed = false;
      try {
        progressed = Step(last_commit, pending);
      } catch (const Xapian::Error& e) {
        spdlog::error("indexer: {}", e.get_description());
        pending = applied.load();  // the uncommitted batch is re-applied after the error
      }
      if (!progressed) {
        std::unique_lock lock(wait_mu);
        applied_cv.wait_for(lock, std::chrono::milliseconds(10), [this] { return stopping.load(); });
      }
    }
    // Commit whatever was applied before stopping.
    try {
      std::lock_guard lock(writer_mu);
      if (pending > applied.load()) {
        writer->set_metadata(kAppliedSeqKey, std::to_string(pending));
        writer->commit();
        PublishApplied(pending);
      }
    } catch (const Xapian::Error& e) {
      spdlog::error("indexer: final commit failed: {}", e.get_description());
    }
  }

  struct ReaderSlot {
    std::uint64_t gen = 0;
    std::unique_ptr<Xapian::Database> db;
  };
  static std::unordered_map<std::uint64_t, ReaderSlot>& Readers() {
    thread_local std::unordered_map<std::uint64_t, ReaderSlot> readers;
    return readers;
  }

  // The calling thread's reader of the live generation, reopened to the latest commit.
  Xapian::Database& Reader() const {
    auto& slot = Readers()[instance];
    std::uint64_t gen = generation.load();
    if (!slot.db || slot.gen != gen) {
      slot.db = std::make_unique<Xapian::Database>(GenPath(gen).string());
      slot.gen = gen;
    } else {
      slot.db->reopen();
    }
    return *slot.db;
  }

  // The calling thread's reader at exactly generation `gen`, revision `rev` (another thread's
  // reader), or nullptr if the live index has moved on since.
  Xapian::Database* ReaderAt(std::uint64_t gen, Xapian::rev rev) const {
    if (generation.load() != gen) return nullptr;
    Xapian::Database& db = Reader();
    if (Readers()[instance].gen != gen || db.get_revision() != rev) return nullptr;
    return &db;
  }
  std::uint64_t ReaderGeneration() const { return Readers()[instance].gen; }
  void DropReader() const { Readers().erase(instance); }

  // Into how many docid ranges a search is split (1: not split): two per thread, so that a thread
  // whose range holds fewer matches takes another range meanwhile (a word's matches are not spread
  // evenly over the docids). Only relevance-ranked text queries are split; sorted listings are
  // cheap already.
  std::size_t SearchParts(const Xapian::Database& db, const SearchRequest& r) const {
    if (options.search_threads <= 1 || r.sort != SortOrder::kRelevance || core::Trim(r.q).empty()) return 1;
    if (db.get_doccount() < options.search_split_min_docs) return 1;
    return 2 * options.search_threads;
  }

  template <class F>
  auto WithReader(F f) const -> decltype(f(std::declval<Xapian::Database&>())) {
    for (int attempt = 0;; ++attempt) {
      try {
        return f(Reader());
      } catch (const Xapian::DatabaseModifiedError&) {
        if (attempt >= 2) return Error::Make(ErrorCode::kUnavailable, "the search index is busy; retry");
      } catch (const Xapian::DatabaseError& e) {
        // A rebuild swapped generations and removed the old one under this reader: drop it and
        // open the live generation.
        Readers().erase(instance);
        if (attempt >= 2) return Error::Internal(fmt::format("search: {}", e.get_description()));
      } catch (const Xapian::Error& e) {
        return Error::Internal(fmt::format("search: {}", e.get_description()));
      }
    }
  }

  // Writes generation `gen` from a snapshot of every thread, positioned at `head`. With
  // options.rebuild_writers = P > 1, P threads each write temporary databases from one contiguous
  // range of the snapshot (key order) in parallel, starting a new one every rebuild_part_docs
  // documents (flushing into a small database costs less per document than into a large one), and
  // Xapian compaction merges them into the generation, part after part: the documents keep the
  // scan order, as a single writer would give them, so a cursor that pages across the swap sees the
  // same order of equally scored threads. The writer, not the scan, is the bottleneck
  // (docs/benchmarks.md). Nothing is fsynced until the end (DB_NO_SYNC, then SyncFiles): the
  // generation is not live until CURRENT names it.
  Result<std::uint64_t> BuildGeneration(std::uint64_t gen, std::uint64_t head, const ProgressFn& progress) {
    auto path = GenPath(gen);
    std::size_t parts = std::max<std::size_t>(1, options.rebuild_writers);
    std::uint64_t part_docs = std::max<std::uint64_t>(1, options.rebuild_part_docs);
    // part_paths[i]: writer i's databases in scan order (with one writer: the generation itself).
    std::vector<std::vector<fs::path>> part_paths(parts);
    std::string part_prefix = fmt::format("gen-{}.part-", gen);
    auto remove_parts = [&] {  // also runs in error paths: never throws
      std::error_code ec;
      std::vector<fs::path> found;
      for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->path().filename().string().rfind(part_prefix, 0) == 0) found.push_back(it->path());
      }
      for (const auto& p : found) fs::remove_all(p, ec);
    };
    std::error_code ec;
    fs::remove_all(path, ec);
    remove_parts();  // left by an interrupted rebuild
    auto started = std::chrono::steady_clock::now();
    auto seconds_since = [](std::chrono::steady_clock::time_point t) {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
    };
    auto snapshot = store.SnapshotThreads();
    if (!snapshot) return snapshot.take_error();
    const storage::ThreadSnapshot& threads = **snapshot;
    std::uint64_t total = threads.Count();

    std::atomic<std::uint64_t> added{0};
    std::atomic<bool> failed{false};
    std::mutex mu;  // guards error, finished
    std::condition_variable finished_cv;
    std::size_t finished = 0;
    std::optional<Error> error;  // the first failure of any writer
    auto fail = [&](Error e) {
      std::lock_guard lock(mu);
      if (!error) error = std::move(e);
      failed = true;
    };
    auto write_part = [&](std::size_t i) {
      try {
        auto open_part = [&] {
          fs::path p = parts == 1 ? path : dir / fmt::format("{}{}-{}", part_prefix, i, part_paths[i].size());
          part_paths[i].push_back(p);
          return Xapian::WritableDatabase(p.string(), Xapian::DB_CREATE_OR_OVERWRITE | Xapian::DB_NO_SYNC);
        };
        Xapian::WritableDatabase db = open_part();
        // The spelling dictionary is derived once from the finished generation instead
        // (mapping::AddSpellings): updating it word by word cost ~8% of a rebuild.
        auto tg = MakeTermGenerator(db, /*spelling=*/false);
        std::size_t since_flush = 0;
        std::uint64_t in_part = 0;
        auto st = threads.Scan(total * i / parts, total * (i + 1) / parts, [&](const core::Thread& t) {
          if (failed) return false;
          if (parts > 1 && in_part == part_docs) {
            db.commit();
            db.close();
            db = open_part();
            in_part = 0;
            since_flush = 0;
          }
          // Each thread is scanned once, so no lookup of an existing document is needed.
          db.add_document(mapping::MapThread(t, tg));
          ++in_part;
          // Small flushes: Xapian buffers changes in node-based maps, and flushing every 1000
          // documents built ~25% faster than its default of 10000 (docs/benchmarks.md).
          if (++since_flush == options.rebuild_flush_docs) {
            db.commit();
            since_flush = 0;
          }
          added.fetch_add(1);
          return true;
        });
        if (!st) fail(st.take_error());
        db.commit();
        db.close();
      } catch (const Xapian::Error& e) {
        fail(Error::Internal(fmt::format("rebuild index: {}", e.get_description())));
      } catch (const std::exception& e) {  // e.g. bad_alloc: must not escape the thread
        fail(Error::Internal(fmt::format("rebuild index: {}", e.what())));
      }
      std::lock_guard lock(mu);
      ++finished;
      finished_cv.notify_all();
    };
    std::vector<std::thread> writers;
    for (std::size_t i = 0; i < parts; ++i) writers.emplace_back(write_part, i);
    {
      // Progress is reported from the calling thread, as before the writers existed.
      std::unique_lock lock(mu);
      while (finished < parts) {
        finished_cv.wait_for(lock, std::chrono::milliseconds(250));
        if (progress && finished < parts) {
          lock.unlock();
          progress(added.load(), total);
          lock.lock();
        }
      }
    }
    for (auto& w : writers) w.join();
    if (error) {
      remove_parts();
      return *error;
    }
    double written_s = seconds_since(started);
    auto merge_started = std::chrono::steady_clock::now();
    try {
      if (parts > 1) {
        Xapian::Database all;
        for (const auto& writer_parts : part_paths) {
          for (const auto& p : writer_parts) all.add_database(Xapian::Database(p.string()));
        }
        all.compact(path.string());  // renumbers: each part's documents follow the previous part's
        all.close();
        remove_parts();
      }
      Xapian::WritableDatabase db(path.string(), Xapian::DB_OPEN | Xapian::DB_NO_SYNC);
      mapping::AddSpellings(db);
      db.set_metadata(kAppliedSeqKey, std::to_string(head));
      db.set_metadata(mapping::kMappingVersionKey, mapping::kMappingVersion);
      db.commit();
      db.close();
    } catch (const Xapian::Error& e) {
      remove_parts();
      return Error::Internal(fmt::format("rebuild index: {}", e.get_description()));
    }
    double merged_s = seconds_since(merge_started);
    auto sync_started = std::chrono::steady_clock::now();
    if (auto synced = SyncFiles(path); !synced) return synced.take_error();
    std::uint64_t count = added.load();
    std::size_t databases = 0;
    for (const auto& writer_parts : part_paths) databases += writer_parts.size();
    spdlog::info("indexer: generation {}: {} threads written in {:.1f} s by {} writer(s) into {} part(s); merged, "
                 "spelling and metadata {:.1f} s; fsync {:.1f} s",
                 gen, count, written_s, parts, databases, merged_s, seconds_since(sync_started));
    if (progress) progress(count, count);
    return count;
  }
};

SearchIndex::SearchIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SearchIndex::~SearchIndex() {
  Stop();
  try {
    std::lock_guard lock(impl_->writer_mu);
    if (impl_->writer) impl_->writer->close();
  } catch (const Xapian::Error& e) {
    spdlog::error("indexer: close failed: {}", e.get_description());
  }
}

Result<std::unique_ptr<SearchIndex>> SearchIndex::Open(const fs::path& index_dir, storage::Store& store,
                                                       const IndexOptions& options) {
  auto impl = std::make_unique<Impl>(index_dir, store, options);
  std::error_code ec;
  fs::create_directories(index_dir, ec);
  if (ec) return Error::Internal(fmt::format("create {}: {}", index_dir.string(), ec.message()));
  std::uint64_t gen = impl->ReadCurrent();
  std::uint64_t head = store.VisibleHead();
  bool need_rebuild = gen == 0;
  if (!need_rebuild) {
    try {
      impl->writer = std::make_unique<Xapian::WritableDatabase>(impl->GenPath(gen).string(), Xapian::DB_OPEN);
      auto seq_text = impl->writer->get_metadata(kAppliedSeqKey);
      std::uint64_t seq = seq_text.empty() ? 0 : std::stoull(seq_text);
      auto version = impl->writer->get_metadata(mapping::kMappingVersionKey);
      if (seq > head) {
        spdlog::warn("indexer: index is at seq {} but the change log ends at {}; rebuilding", seq, head);
        need_rebuild = true;
      } else if (version != mapping::kMappingVersion) {
        // Documents written by an older MapThread lack fields the current code reads.
        spdlog::info("indexer: index mapping version '{}' is not the current '{}'; rebuilding",
                     version.empty() ? "1" : version, mapping::kMappingVersion);
        need_rebuild = true;
      } else {
        impl->applied = seq;
      }
    } catch (const std::exception& e) {
      spdlog::warn("indexer: index generation {} cannot be opened ({}); rebuilding", gen, e.what());
      need_rebuild = true;
    } catch (const Xapian::Error& e) {
      spdlog::warn("indexer: index generation {} cannot be opened ({}); rebuilding", gen, e.get_description());
      need_rebuild = true;
    }
  }
  if (need_rebuild) {
    impl->writer.reset();
    std::uint64_t next = gen + 1;
    spdlog::info("indexer: building the search index from the store (about {} threads)...",
                 store.EstimateThreadCount());
    auto last_log = std::chrono::steady_clock::now();
    auto built = impl->BuildGeneration(next, head, [&last_log](std::uint64_t done, std::uint64_t total) {
      auto now = std::chrono::steady_clock::now();
      if (now - last_log < std::chrono::seconds(5)) return;
      last_log = now;
      spdlog::info("indexer: {}/{} threads indexed", done, total);
    });
    if (!built) return built.take_error();
    if (!impl->WriteCurrent(next)) return Error::Internal("cannot write index CURRENT");
    if (gen != 0) fs::remove_all(impl->GenPath(gen), ec);
    gen = next;
    try {
      impl->writer = std::make_unique<Xapian::WritableDatabase>(impl->GenPath(gen).string(), Xapian::DB_OPEN);
    } catch (const Xapian::Error& e) {
      return Error::Internal(fmt::format("open rebuilt index: {}", e.get_description()));
    }
    impl->applied = head;
  }
  impl->generation = gen;
  return std::unique_ptr<SearchIndex>(new SearchIndex(std::move(impl)));
}

void SearchIndex::Start() {
  if (impl_->tailer.joinable()) return;
  impl_->stopping = false;
  impl_->tailer = std::thread([this] { impl_->TailLoop(); });
}

void SearchIndex::Stop() {
  impl_->stopping = true;
  impl_->applied_cv.notify_all();
  if (impl_->tailer.joinable()) impl_->tailer.join();
}

std::uint64_t SearchIndex::AppliedSeq() const { return impl_->applied.load(); }

bool SearchIndex::WaitForSeq(std::uint64_t seq, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->wait_mu);
  return impl_->applied_cv.wait_for(lock, timeout, [&] { return impl_->applied.load() >= seq; });
}

Result<std::uint64_t> SearchIndex::Rebuild(const ProgressFn& progress) {
  std::lock_guard rebuild_lock(impl_->rebuild_mu);
  std::uint64_t head = impl_->store.VisibleHead();
  std::uint64_t old_gen = impl_->generation.load();
  std::uint64_t new_gen = old_gen + 1;
  auto built = impl_->BuildGeneration(new_gen, head, progress);
  if (!built) return built;
  {
    std::lock_guard lock(impl_->writer_mu);
    try {
      if (impl_->writer) impl_->writer->close();
      impl_->writer = std::make_unique<Xapian::WritableDatabase>(impl_->GenPath(new_gen).string(), Xapian::DB_OPEN);
    } catch (const Xapian::Error& e) {
      return Error::Internal(fmt::format("open rebuilt index: {}", e.get_description()));
    }
    if (!impl_->WriteCurrent(new_gen)) return Error::Internal("cannot write index CURRENT");
    impl_->generation = new_gen;
    impl_->PublishApplied(head);  // the tailer re-applies anything committed after `head`
  }
  std::error_code ec;
  fs::remove_all(impl_->GenPath(old_gen), ec);  // open readers keep their files until they reopen
  return built;
}

std::uint64_t SearchIndex::SplitSearchCount() const { return impl_->split_searches.load(); }

Result<SearchResponse> SearchIndex::Search(const SearchRequest& request) const {
  return impl_->WithReader([&](Xapian::Database& db) -> Result<SearchResponse> {
    Xapian::QueryParser qp;
    bool fell_back = false;
    Xapian::Query query = OrgQuery(request, db, qp, fell_back);
    auto limit = static_cast<Xapian::doccount>(request.limit);
    auto offset = static_cast<Xapian::doccount>(request.offset);
    SearchResponse out;
    Xapian::MSet mset;  // holds the query's terms for the snippets
    auto add_hit = [&](const Xapian::Document& doc, int score) {
      // Exhaustive: the best window of the whole text (answers included). No background model: it
      // looks up every word of the text in the index (~1.1 ms per page of 20 at 1M threads) only to
      // prefer rarer non-query words.
      SearchHit hit = HitFromDocument(doc, mset, Xapian::MSet::SNIPPET_EXHAUSTIVE);
      hit.score = request.q.empty() ? 0 : score;
      out.results.push_back(std::move(hit));
    };

    // Split only with a helper reserved to take a part: a split search costs more work in all
    // (each part filters its docid range), which under load would only cost throughput. The
    // reservation keeps concurrent searches from all splitting for the same idle helper.
    std::size_t parts = impl_->SearchParts(db, request);
    core::AssistPool::Reservation helper;
    if (parts > 1) helper = impl_->assist.TryReserve();
    if (!helper) parts = 1;
    if (parts <= 1) {
      Xapian::Enquire enquire(db);
      enquire.set_query(query);
      enquire.set_weighting_scheme(*mapping::MakeWeight());
      switch (request.sort) {
        case SortOrder::kRelevance:
          if (request.q.empty()) enquire.set_sort_by_value(mapping::kSlotCreated, true);
          break;
        case SortOrder::kNewest: enquire.set_sort_by_value(mapping::kSlotCreated, true); break;
        case SortOrder::kVotes: enquire.set_sort_by_value_then_relevance(mapping::kSlotVotes, true); break;
      }
      match::FacetSpy spy;
      enquire.add_matchspy(&spy);
      mset = enquire.get_mset(offset, limit + 1, kFacetSampleSize);
      enquire.clear_matchspies();
      out.estimated_total = mset.get_matches_estimated();
      out.has_more = mset.size() > limit;
      for (auto it = mset.begin(); it != mset.end() && out.results.size() < limit; ++it) {
        add_hit(it.get_document(), match::RelativeScore(it.get_weight(), mset.get_max_attained()));
      }
      spy.TakeInto(out.facets);
    } else {
      // Relevance order over several docid ranges at once, merged (indexer/match.hpp). Part 0 runs
      // here on this thread's reader; a helper runs another part with its own reader, which must
      // be at the same revision, and its own copy of the query (Xapian objects are not shared
      // between threads); otherwise this thread runs that part too.
      impl_->split_searches.fetch_add(1, std::memory_order_relaxed);
      auto ranges = match::SplitDocids(db.get_lastdocid(), parts);
      std::vector<match::PartResult> results(ranges.size());
      std::uint64_t gen = impl_->ReaderGeneration();
      Xapian::rev rev = db.get_revision();
      Xapian::doccount wanted = offset + limit + 1;
      // Every part checks at least kFacetSampleSize matches, and the parts' facet spies share one
      // budget of that many documents: the counts are exact when the whole search has at most that
      // many matches (as a whole search's are) and a sample of that size otherwise. Each value read
      // costs ~1 us for a sparse query at 1M threads, so four parts counting 200 each cost ~0.8 ms
      // more than one budget (docs/benchmarks.md).
      Xapian::doccount check = kFacetSampleSize;
      std::atomic<std::uint64_t> facet_budget{0};
      auto run_here = [&](std::size_t i, std::atomic<std::uint64_t>* budget) {
        results[i] = match::MatchPart(db, query, ranges[i].first, ranges[i].second, wanted, check,
                                      i == 0 ? &mset : nullptr, budget);
      };
      impl_->assist.Run(ranges.size(), [&](std::size_t i, bool on_helper) {
        if (!on_helper) return run_here(i, &facet_budget);
        try {
          Xapian::Database* own = impl_->ReaderAt(gen, rev);
          if (own == nullptr) return;  // the index moved on: left for this thread
          Xapian::QueryParser part_qp;
          bool part_fell_back = false;
          Xapian::Query part_query = OrgQuery(request, *own, part_qp, part_fell_back);
          results[i] = match::MatchPart(*own, part_query, ranges[i].first, ranges[i].second, wanted, check, nullptr,
                                        &facet_budget);
        } catch (const Xapian::Error&) {
          // The helper's own reader failed (e.g. its generation was just removed): drop it and
          // leave the part to this request's thread, whose reader is the one that counts.
          impl_->DropReader();
          results[i] = match::PartResult{};
        }
      });
      helper = core::AssistPool::Reservation();  // the helper is free for other searches again
      // A part left over by a failed helper counts its facets afresh with a budget of its own:
      // still exact below 200 matches (the shared budget was not used up), a larger sample above.
      for (std::size_t i = 0; i < results.size(); ++i) {
        if (!results[i].done) run_here(i, nullptr);
      }
      match::Merged merged = match::Merge(results, offset, limit + 1);
      out.estimated_total = merged.estimated;
      out.has_more = merged.hits.size() > limit;
      for (std::size_t i = 0; i < merged.hits.size() && i < limit; ++i) {
        add_hit(db.get_document(merged.hits[i].hit.docid), merged.hits[i].score);
      }
      out.facets = std::move(merged.facets);
    }
    // Offer a correction only when the query found nothing: a query whose words all exist must
    // not be second-guessed (and the check costs a second search).
    if (!request.q.empty() && !fell_back && out.results.empty() && request.offset == 0) {
      std::string corrected = qp.get_corrected_query_string();
      if (!corrected.empty() && corrected != request.q) {
        // The spelling dictionary is shared by all tenants: only suggest a correction that finds
        // something in the caller's organisation, so it never reveals another tenant's words.
        SearchRequest probe = request;
        probe.q = corrected;
        Xapian::QueryParser qp2;
        mapping::ConfigureParser(qp2);
        bool fb2 = false;
        Xapian::Enquire check(db);
        check.set_query(mapping::RestrictToOrg(mapping::BuildUserQuery(probe, qp2, fb2), request.org_id, db));
        if (check.get_mset(0, 1).size() > 0) out.did_you_mean = corrected;
      }
    }
    return out;
  });
}

Result<std::vector<SearchHit>> SearchIndex::Similar(const SimilarRequest& request) const {
  return impl_->WithReader([&](Xapian::Database& db) -> Result<std::vector<SearchHit>> {
    Xapian::QueryParser qp;
    mapping::ConfigureParser(qp);
    qp.set_default_op(Xapian::Query::OP_OR);
    std::string draft = request.title + "\n" + request.title + "\n" + request.body;
    for (auto& c : draft) {
      auto uc = static_cast<unsigned char>(c);
      if (uc < 0x80 && !std::isalnum(uc)) c = ' ';
    }
    Xapian::Query parsed = qp.parse_query(draft, 0);
    // The draft's most significant terms only (OP_ELITE_SET picks them by the index statistics):
    // a long draft must not turn into a slow OR over every word.
    std::vector<Xapian::Query> draft_terms;
    for (auto it = parsed.get_unique_terms_begin(); it != parsed.get_unique_terms_end(); ++it) {
      draft_terms.emplace_back(*it);
    }
    Xapian::Query words = draft_terms.empty()
                              ? Xapian::Query()
                              : Xapian::Query(Xapian::Query::OP_ELITE_SET, draft_terms.begin(), draft_terms.end(), 10);
    std::vector<Xapian::Query> tag_terms;
    for (const auto& t : request.tags) tag_terms.emplace_back(std::string(mapping::kPrefixTag) + t);
    Xapian::Query base = words;
    if (!tag_terms.empty()) {
      Xapian::Query tags(Xapian::Query::OP_OR, tag_terms.begin(), tag_terms.end());
      // Tags are boolean terms (no weight of their own): give them a small, fixed contribution.
      base = Xapian::Query(Xapian::Query::OP_OR, base,
                           Xapian::Query(Xapian::Query::OP_SCALE_WEIGHT, Xapian::Query(Xapian::Query::OP_SYNONYM, tags.get_terms_begin(), tags.get_terms_end()), 0.5));
    }
    if (base.empty()) return std::vector<SearchHit>{};
    Xapian::Query restricted = mapping::RestrictToOrg(base, request.org_id, db);
    if (request.exclude_thread_id) {
      restricted = Xapian::Query(Xapian::Query::OP_AND_NOT, restricted,
                                 Xapian::Query(mapping::IdTerm(*request.exclude_thread_id)));
    }
    Xapian::Enquire enquire(db);
    enquire.set_weighting_scheme(*mapping::MakeWeight());
    enquire.set_query(restricted);
    // Relevance feedback: the best first-pass matches form a relevance set whose most significant
    // terms expand the draft, so a reworded duplicate is found through the words it shares with
    // threads like it.
    Xapian::MSet first = enquire.get_mset(0, 3);
    if (!first.empty()) {
      Xapian::RSet rset;
      for (auto it = first.begin(); it != first.end(); ++it) rset.add_document(*it);
      mapping::WordTermsOnly decider;
      Xapian::ESet eset = enquire.get_eset(12, rset, &decider);
      if (!eset.empty()) {
        Xapian::Query expanded(Xapian::Query::OP_OR, eset.begin(), eset.end());
        Xapian::Query q(Xapian::Query::OP_OR, base, Xapian::Query(Xapian::Query::OP_SCALE_WEIGHT, expanded, 0.3));
        q = mapping::RestrictToOrg(q, request.org_id, db);
        if (request.exclude_thread_id) {
          q = Xapian::Query(Xapian::Query::OP_AND_NOT, q, Xapian::Query(mapping::IdTerm(*request.exclude_thread_id)));
        }
        enquire.set_query(q);
      }
    }
    Xapian::MSet mset = enquire.get_mset(0, static_cast<Xapian::doccount>(request.limit));
    std::vector<SearchHit> out;
    for (auto it = mset.begin(); it != mset.end(); ++it) {
      SearchHit hit = HitFromDocument(it.get_document(), mset, Xapian::MSet::SNIPPET_BACKGROUND_MODEL);
      hit.score = it.get_percent();
      out.push_back(std::move(hit));
    }
    return out;
  });
}

Result<TopicsResponse> SearchIndex::Topics(const TopicsRequest& request) const {
  return impl_->WithReader(
      [&](Xapian::Database& db) -> Result<TopicsResponse> { return topics::FindTopics(db, request); });
}

Result<TrendingResponse> SearchIndex::Trending(const TrendingRequest& request) const {
  return impl_->WithReader(
      [&](Xapian::Database& db) -> Result<TrendingResponse> { return topics::FindTrending(db, request); });
}

}  // namespace streetwise::indexer
