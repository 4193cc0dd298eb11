#include "service/insights_service.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "core/thread_policy.hpp"
#include "insights/contribution.hpp"
#include "insights/histogram.hpp"
#include "insights/rollup.hpp"
#include "notify/outbox.hpp"
#include "core/crypto.hpp"
#include "storage/keys.hpp"

namespace streetwise::service {
using core::Error;
using core::ErrorCode;
using core::Result;
using insights::Rollup;
namespace keys = storage::keys;
namespace json = boost::json;
namespace field = insights::field;

namespace {

constexpr auto kCf = keys::kCfInsights;
constexpr std::size_t kBatchEvents = 2000;  // one commit per batch: fewer rewrites of hot rollups

std::int64_t Ms(core::TimePoint t) { return core::ToUnixMillis(t); }

std::string OrgKey(std::string_view org, std::string_view suffix) {
  std::string k(org);
  k.push_back('/');
  k.append(suffix);
  return k;
}

// The key of an open thread in the oldest-unanswered listing (below "<org>/").
std::string OpenKey(std::int64_t created_ms, std::string_view thread_id) {
  std::string k = "o/" + keys::BigEndian64(static_cast<std::uint64_t>(created_ms)) + "/";
  k.append(thread_id);
  return k;
}

std::string OpenValue(const core::Thread& t) {
  json::array tags;
  for (const auto& tag : t.tags) tags.emplace_back(tag);
  json::object o{{"title", t.title}, {"kind", core::ToString(t.kind)}, {"tags", std::move(tags)}};
  if (t.deal.region && !t.deal.region->empty()) o["region"] = *t.deal.region;
  return json::serialize(o);
}

// When an expert was first asked to answer a thread (below "<org>/").
std::string AssignedKey(std::string_view thread_id, std::string_view user_id) {
  std::string k = "a/";
  k.append(thread_id).append("/").append(user_id);
  return k;
}

// A strictly-after scan bound that includes `day` ("20261201" -> "20261200").
std::string DayBefore(const std::string& day) { return std::to_string(std::stoll(day) - 1); }

bool ThreadEvent(core::EventType t) {
  using E = core::EventType;
  return t == E::kThreadCreated || t == E::kThreadEdited || t == E::kThreadStatusChanged || t == E::kAnswerCreated ||
         t == E::kAnswerAccepted || t == E::kThreadDeleted || t == E::kThreadEscalated;
}

// "YYYY-MM-DD" of the Monday (UTC) of the week containing t, and that Monday's 08:00 UTC.
std::pair<std::string, core::TimePoint> WeekOf(core::TimePoint t) {
  constexpr std::int64_t kDay = 86'400'000;
  auto ms = Ms(t);
  auto days = ms >= 0 ? ms / kDay : (ms - kDay + 1) / kDay;
  auto since_monday = ((days % 7) + 7 + 3) % 7;  // 1970-01-01 was a Thursday
  auto monday = core::FromUnixMillis((days - since_monday) * kDay);
  return {core::FormatRfc3339(monday).substr(0, 10), monday + std::chrono::hours(8)};
}

// "45 s", "12 min", "3 h 20 min", "2 d 4 h".
std::string HumanDuration(std::int64_t s) {
  if (s < 60) return fmt::format("{} s", s);
  if (s < 3600) return fmt::format("{} min", s / 60);
  if (s < 86400) return s % 3600 >= 60 ? fmt::format("{} h {} min", s / 3600, s % 3600 / 60) : fmt::format("{} h", s / 3600);
  return s % 86400 >= 3600 ? fmt::format("{} d {} h", s / 86400, s % 86400 / 3600) : fmt::format("{} d", s / 86400);
}

std::string OptDuration(const std::optional<std::int64_t>& s) { return s ? HumanDuration(*s) : std::string("n/a"); }

std::string EncodeSubscription(const DigestSubscription& s) {
  json::object o{{"subscribed", s.subscribed}};
  if (s.last_sent_week) o["last_sent_week"] = *s.last_sent_week;
  return json::serialize(o);
}

DigestSubscription DecodeSubscription(std::string_view v) {
  DigestSubscription s;
  boost::system::error_code ec;
  auto parsed = json::parse(v, ec);
  if (ec || !parsed.is_object()) return s;
  const auto& o = parsed.as_object();
  if (auto* b = o.if_contains("subscribed"); b && b->is_bool()) s.subscribed = b->as_bool();
  if (auto* w = o.if_contains("last_sent_week"); w && w->is_string()) s.last_sent_week = std::string(w->as_string());
  return s;
}

LatencyFigures FiguresOf(const insights::LatencyHistogram& h) {
  return LatencyFigures{h.Count(), h.Percentile(0.5), h.Percentile(0.9)};
}

// Sums thread rollups into the figures of one slice.
struct SliceAccumulator {
  insights::RollupSum sum;

  SliceFigures Figures(std::string name, std::int64_t sla_seconds) const {
    SliceFigures f;
    f.name = std::move(name);
    for (int k = 0; k < 4; ++k) {
      for (int s = 0; s < 4; ++s) {
        auto n = sum.Get(field::Threads(static_cast<core::ThreadKind>(k), static_cast<core::ThreadStatus>(s)));
        f.threads += n;
        if (static_cast<core::ThreadStatus>(s) == core::ThreadStatus::kOpen) f.unanswered += n;
      }
    }
    insights::LatencyHistogram first, accepted;
    sum.AddHistogram(field::kFirstAnswerBase, first);
    sum.AddHistogram(field::kAcceptedBase, accepted);
    f.answered = first.Count();
    f.first_answer = FiguresOf(first);
    f.accepted = FiguresOf(accepted);
    f.answered_within_sla = static_cast<std::int64_t>(first.CountAtMost(sla_seconds) + 0.5);
    if (f.answered > 0) f.within_sla_share = static_cast<double>(f.answered_within_sla) / static_cast<double>(f.answered);
    f.escalations = sum.Get(field::kEscalations);
    return f;
  }
};

}  // namespace

core::Status CheckInsightsReader(const Caller& caller) {
  if (!core::CanReadInsights(caller.user)) {
    return Error::Make(ErrorCode::kForbidden, "insights are for admins and analysts");
  }
  return core::OkStatus();
}

// ---- the worker ---------------------------------------------------------------------------------

struct InsightsService::Impl {
  storage::Store& store;
  const core::Clock& clock;
  std::atomic<std::uint64_t> position{0};
  std::atomic<bool> stopping{false};
  std::thread worker;
  mutable std::mutex wake_mu;
  mutable std::condition_variable wake;     // the worker waits on it between polls
  mutable std::condition_variable applied;  // readers waiting for a position
  std::mutex topics_mu;
  DigestTopicsProvider topics;  // guarded by topics_mu
  std::function<std::size_t()> weekly_digests;  // set by InsightsService (RunWeeklyDigests)
  std::chrono::steady_clock::time_point next_digest_check{};

  Impl(storage::Store& s, const core::Clock& c) : store(s), clock(c) {}

  // One batch of events turned into one relaxed commit.
  struct Batch {
    std::map<std::string, Rollup> deltas;                     // full key -> delta
    std::set<std::pair<std::string, std::string>> dirty;      // (org, thread)
    std::map<std::pair<std::string, std::string>, std::int64_t> escalations;
    std::map<std::pair<std::string, std::string>, std::optional<core::Thread>> threads;
    std::map<std::string, std::optional<std::string>> raw;    // insights keys read or written in this batch
    storage::Mutation m;
  };

  Result<std::optional<core::Thread>> LoadThread(Batch& b, const std::string& org, const std::string& id) {
    auto key = std::make_pair(org, id);
    if (auto it = b.threads.find(key); it != b.threads.end()) return it->second;
    auto t = store.GetThread(org, id);
    std::optional<core::Thread> out;
    if (t) {
      out = std::move(t).value();
    } else if (t.error().code != ErrorCode::kNotFound) {
      return t.take_error();
    }
    b.threads[key] = out;
    return out;
  }

  Result<std::optional<std::string>> GetRaw(Batch& b, const std::string& key) {
    if (auto it = b.raw.find(key); it != b.raw.end()) return it->second;
    auto v = store.GetRaw(kCf, key);
    if (!v) return v.take_error();
    b.raw[key] = *v;
    return *v;
  }

  void PutRaw(Batch& b, const std::string& key, std::string value) {
    b.raw[key] = value;
    b.m.PutRaw(kCf, key, std::move(value));
  }

  void DeleteRaw(Batch& b, const std::string& key) {
    b.raw[key] = std::nullopt;
    b.m.DeleteRaw(kCf, key);
  }

  // Expert figures go to the "*" slice and to each of the thread's tags.
  void AddExpert(Batch& b, const std::string& org, const std::optional<core::Thread>& t, std::string_view user,
                 core::TimePoint at, std::uint32_t f, std::int64_t delta) {
    auto day = insights::DayOf(at);
    b.deltas[OrgKey(org, insights::ExpertRollupKey("*", day, user))].Add(f, delta);
    if (!t) return;
    for (const auto& tag : t->tags) b.deltas[OrgKey(org, insights::ExpertRollupKey(tag, day, user))].Add(f, delta);
  }

  core::Status Apply(Batch& b, const core::Event& e) {
    using E = core::EventType;
    if (!e.thread_id) return core::OkStatus();
    const auto& org = e.org_id;
    const auto& tid = *e.thread_id;
    if (ThreadEvent(e.type)) b.dirty.emplace(org, tid);
    if (e.type == E::kThreadEscalated) b.escalations[{org, tid}] += 1;
    if (e.type != E::kAssignmentCreated && e.type != E::kAssignmentDeclined && e.type != E::kAnswerCreated &&
        e.type != E::kAnswerAccepted) {
      return core::OkStatus();
    }
    auto t = LoadThread(b, org, tid);
    if (!t) return t.take_error();
    switch (e.type) {
      case E::kAssignmentCreated: {
        if (!e.user_id) break;
        AddExpert(b, org, *t, *e.user_id, e.at, field::kAssigned, 1);
        auto key = OrgKey(org, AssignedKey(tid, *e.user_id));
        auto seen = GetRaw(b, key);
        if (!seen) return seen.take_error();
        if (!*seen) PutRaw(b, key, std::to_string(Ms(e.at)));
        break;
      }
      case E::kAssignmentDeclined:
        if (e.user_id) AddExpert(b, org, *t, *e.user_id, e.at, field::kDeclined, 1);
        break;
      case E::kAnswerCreated: {
        if (!e.actor_id) break;
        core::TimePoint answered_at = e.at;
        core::TimePoint asked_at = *t ? (*t)->created_at : e.at;
        if (*t && e.answer_id) {
          if (const auto* a = (*t)->FindAnswer(*e.answer_id)) answered_at = a->created_at;
        }
        auto assigned = GetRaw(b, OrgKey(org, AssignedKey(tid, *e.actor_id)));
        if (!assigned) return assigned.take_error();
        if (*assigned) asked_at = core::FromUnixMillis(std::stoll(**assigned));
        AddExpert(b, org, *t, *e.actor_id, answered_at, field::kAnswered, 1);
        auto bucket = insights::BucketOf(insights::SecondsBetween(asked_at, answered_at));
        AddExpert(b, org, *t, *e.actor_id, answered_at, field::kAnswerTimeBase + static_cast<std::uint32_t>(bucket), 1);
        break;
      }
      case E::kAnswerAccepted: {
        if (!*t || !e.answer_id) break;
        if (const auto* a = (*t)->FindAnswer(*e.answer_id)) {
          AddExpert(b, org, *t, a->author_id, e.at, field::kAcceptedAnswers, 1);
        }
        break;
      }
      default:
        break;
    }
    return core::OkStatus();
  }

  // Recomputes one thread's contributions and queues the difference.
  core::Status Recompute(Batch& b, const std::string& org, const std::string& tid) {
    auto snapshot_key = OrgKey(org, "c/" + tid);
    auto raw = GetRaw(b, snapshot_key);
    if (!raw) return raw.take_error();
    insights::StoredContributions before;
    if (*raw) {
      auto decoded = insights::DecodeContributions(**raw);
      if (decoded) {
        before = std::move(*decoded);
      } else {
        spdlog::warn("insights: unreadable contributions of thread {}; recounting it", tid);
      }
    }
    auto t = LoadThread(b, org, tid);
    if (!t) return t.take_error();
    insights::StoredContributions after;
    after.escalations = before.escalations;
    if (auto it = b.escalations.find({org, tid}); it != b.escalations.end()) after.escalations += it->second;
    if (*t) {
      after.contributions = insights::ContributionsOf(insights::FactsOf(**t, after.escalations));
      after.created_ms = Ms((*t)->created_at);
      after.open = (*t)->status == core::ThreadStatus::kOpen;
    }
    for (auto& [key, delta] : insights::Difference(after.contributions, before.contributions)) {
      b.deltas[OrgKey(org, key)].Merge(delta);
    }
    if (before.open && (!after.open || before.created_ms != after.created_ms)) {
      DeleteRaw(b, OrgKey(org, OpenKey(before.created_ms, tid)));
    }
    if (after.open) PutRaw(b, OrgKey(org, OpenKey(after.created_ms, tid)), OpenValue(**t));
    if (*t) {
      PutRaw(b, snapshot_key, insights::EncodeContributions(after));
    } else if (*raw) {
      DeleteRaw(b, snapshot_key);
    }
    return core::OkStatus();
  }

  core::Status Process(const std::vector<core::Event>& events) {
    Batch b;
    for (const auto& e : events) {
      if (auto st = Apply(b, e); !st) return st;
    }
    for (const auto& [org, tid] : b.dirty) {
      if (auto st = Recompute(b, org, tid); !st) return st;
    }
    for (auto& [key, delta] : b.deltas) {
      if (delta.empty()) continue;
      auto current = store.GetRaw(kCf, key);
      if (!current) return current.take_error();
      Rollup sum;
      if (*current) {
        if (auto r = Rollup::Decode(**current)) sum = std::move(*r);
      }
      sum.Merge(delta);
      if (sum.empty()) {
        b.m.DeleteRaw(kCf, key);
      } else {
        b.m.PutRaw(kCf, key, sum.Encode());
      }
    }
    b.m.SetMeta(keys::kMetaInsightsPosition, std::to_string(events.back().seq));
    return store.CommitRelaxed(std::move(b.m));
  }

  void Loop() {
    while (!stopping.load()) {
      auto events = store.ReadChangeLog(position.load(), kBatchEvents);
      bool busy = events && !events->empty();
      if (busy) {
        if (auto st = Process(*events); st) {
          {
            std::lock_guard lock(wake_mu);
            position = events->back().seq;
          }
          applied.notify_all();
        } else {
          spdlog::error("insights: cannot apply events after {}: {}; retrying", position.load(), st.error().cause);
          busy = false;
        }
      }
      if (weekly_digests && std::chrono::steady_clock::now() >= next_digest_check) {
        next_digest_check = std::chrono::steady_clock::now() + std::chrono::minutes(1);
        weekly_digests();
      }
      if (!busy) {
        std::unique_lock lock(wake_mu);
        wake.wait_for(lock, std::chrono::milliseconds(50), [this] { return stopping.load(); });
      }
    }
  }

  // ---- reads --------------------------------------------------------------------------------------

  struct DayRange {
    std::string from, to;  // YYYYMMDD, inclusive
    bool Contains(std::string_view day) const { return day >= from && day <= to; }
  };

  static DayRange RangeOf(const InsightsPeriod& p) { return {insights::DayOf(p.from), insights::DayOf(p.to)}; }

  // Sums the thread rollups of one (class, slice) over the days.
  core::Status SumSlice(const std::string& org, std::string_view cls, std::string_view slice, const DayRange& days,
                        insights::RollupSum& out) const {
    auto prefix = OrgKey(org, insights::ThreadRollupKey(cls, slice, ""));
    return store.ScanRaw(kCf, prefix, DayBefore(days.from), [&](std::string_view day, std::string_view value) {
      if (day > days.to) return false;
      out.AddEncoded(value);
      return true;
    });
  }

  // Sums every slice of a class (optionally only slices starting with `slice_prefix`), per slice.
  core::Status SumClass(const std::string& org, std::string_view cls, std::string_view slice_prefix,
                        const DayRange& days, std::map<std::string, SliceAccumulator>& out) const {
    auto prefix = OrgKey(org, "r/") + std::string(cls) + "/" + std::string(slice_prefix);
    // Keys are <slice>/<day> in order: read each slice's days in the period, then seek past the
    // slice (a skip scan), so a short period does not read every day of every slice.
    std::optional<std::string> after;
    for (;;) {
      std::optional<std::string> resume;
      auto st = store.ScanRaw(kCf, prefix, after, [&](std::string_view rest, std::string_view value) {
        if (rest.size() < 9) return true;
        auto day = rest.substr(rest.size() - 8);
        auto rest_of_slice = rest.substr(0, rest.size() - 9);
        if (day < days.from) {
          resume = std::string(rest_of_slice) + "/" + DayBefore(days.from);
          return false;
        }
        if (day > days.to) {
          resume = std::string(rest_of_slice) + "/\xff";
          return false;
        }
        std::string slice(slice_prefix);
        slice.append(rest_of_slice);
        out[slice].sum.AddEncoded(value);
        return true;
      });
      if (!st || !resume) return st;
      after = std::move(resume);
    }
  }

  static std::vector<SliceFigures> Ranked(const std::map<std::string, SliceAccumulator>& slices,
                                          std::int64_t sla_seconds, std::size_t strip_prefix) {
    std::vector<SliceFigures> out;
    for (const auto& [name, acc] : slices) {
      auto f = acc.Figures(name.substr(strip_prefix), sla_seconds);
      if (f.threads > 0) out.push_back(std::move(f));
    }
    std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.threads > b.threads; });
    return out;
  }
};

InsightsService::InsightsService(storage::Store& store, const core::Clock& clock)
    : impl_(std::make_unique<Impl>(store, clock)) {
  if (auto p = store.GetMeta(keys::kMetaInsightsPosition); p && p->has_value()) {
    impl_->position = std::stoull(**p);
  }
}

InsightsService::~InsightsService() { Stop(); }

void InsightsService::Start() {
  if (impl_->worker.joinable()) return;
  impl_->weekly_digests = [this] { return RunWeeklyDigests(); };
  impl_->stopping = false;
  impl_->worker = std::thread([this] { impl_->Loop(); });
}

void InsightsService::Stop() {
  {
    std::lock_guard lock(impl_->wake_mu);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  if (impl_->worker.joinable()) impl_->worker.join();
}

std::uint64_t InsightsService::Position() const { return impl_->position.load(); }

bool InsightsService::WaitForSeq(std::uint64_t seq, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->wake_mu);
  return impl_->applied.wait_for(lock, timeout, [&] { return impl_->position.load() >= seq; });
}

Result<InsightsSummary> InsightsService::Summary(const Caller& caller, const SummaryQuery& q) const {
  if (auto st = CheckInsightsReader(caller); !st) return st.take_error();
  return SummaryOf(caller.org_id(), q);
}

Result<InsightsSummary> InsightsService::SummaryOf(const std::string& org, const SummaryQuery& q) const {
  auto days = Impl::RangeOf(q.period);
  InsightsSummary out;

  // The selection: the narrowest class holding exactly the threads asked for.
  insights::RollupSum overall;
  core::Status st = core::OkStatus();
  if (q.tag && q.region) {
    st = impl_->SumSlice(org, "tr", insights::TagRegionSlice(*q.tag, *q.region), days, overall);
  } else if (q.tag) {
    st = impl_->SumSlice(org, "t", *q.tag, days, overall);
  } else if (q.region) {
    st = impl_->SumSlice(org, "r", *q.region, days, overall);
  } else {
    st = impl_->SumSlice(org, "a", "*", days, overall);
  }
  if (!st) return st.take_error();
  out.overall = SliceAccumulator{overall}.Figures("", q.sla_seconds);
  for (int k = 0; k < 4; ++k) {
    for (int s = 0; s < 4; ++s) {
      auto kind = static_cast<core::ThreadKind>(k);
      auto status = static_cast<core::ThreadStatus>(s);
      out.by_kind[kind][status] = overall.Get(field::Threads(kind, status));
    }
  }

  // Per tag and per region, within the other filter.
  std::map<std::string, SliceAccumulator> tags, regions;
  if (q.tag) {
    tags[*q.tag].sum = overall;
    st = impl_->SumClass(org, "tr", *q.tag + "|", days, regions);
    if (!st) return st.take_error();
    out.by_tag = Impl::Ranked(tags, q.sla_seconds, 0);
    out.by_region = Impl::Ranked(regions, q.sla_seconds, q.tag->size() + 1);
  } else if (q.region) {
    // The region's tags are contiguous in class "rt" as "<region>|<tag>".
    regions[*q.region].sum = overall;
    st = impl_->SumClass(org, "rt", *q.region + "|", days, tags);
    if (!st) return st.take_error();
    out.by_tag = Impl::Ranked(tags, q.sla_seconds, q.region->size() + 1);
    out.by_region = Impl::Ranked(regions, q.sla_seconds, 0);
  } else {
    st = impl_->SumClass(org, "t", "", days, tags);
    if (!st) return st.take_error();
    st = impl_->SumClass(org, "r", "", days, regions);
    if (!st) return st.take_error();
    out.by_tag = Impl::Ranked(tags, q.sla_seconds, 0);
    out.by_region = Impl::Ranked(regions, q.sla_seconds, 0);
  }

  // The oldest open threads created in the period (bounded scan of the open listing).
  std::size_t scanned = 0;
  auto from_ms = Ms(q.period.from), to_ms = Ms(q.period.to);
  std::string after = keys::BigEndian64(static_cast<std::uint64_t>(std::max<std::int64_t>(from_ms, 1) - 1)) + "\xff";
  st = impl_->store.ScanRaw(kCf, OrgKey(org, "o/"), after, [&](std::string_view key, std::string_view value) {
    if (++scanned > 20000 || out.oldest_unanswered.size() >= q.oldest_limit) return false;
    auto created = static_cast<std::int64_t>(keys::ParseBigEndian64(key.substr(0, 8)));
    if (created > to_ms) return false;
    UnansweredThread u;
    u.id = std::string(key.substr(9));
    u.created_at = core::FromUnixMillis(created);
    try {
      auto o = json::parse(value).as_object();
      u.title = json::value_to<std::string>(o.at("title"));
      u.kind = core::ParseThreadKind(o.at("kind").as_string()).value_or(core::ThreadKind::kQuestion);
      for (const auto& tag : o.at("tags").as_array()) u.tags.push_back(json::value_to<std::string>(tag));
      if (auto* r = o.if_contains("region")) u.region = json::value_to<std::string>(*r);
    } catch (const std::exception&) {
      return true;
    }
    if (q.tag && std::find(u.tags.begin(), u.tags.end(), *q.tag) == u.tags.end()) return true;
    if (q.region && u.region != q.region) return true;
    out.oldest_unanswered.push_back(std::move(u));
    return true;
  });
  if (!st) return st.take_error();
  return out;
}

Result<std::vector<ExpertFigures>> InsightsService::Experts(const Caller& caller, const ExpertsQuery& q) const {
  if (auto st = CheckInsightsReader(caller); !st) return st.take_error();
  const auto& org = caller.org_id();
  auto days = Impl::RangeOf(q.period);
  std::map<std::string, insights::RollupSum> per_user;
  auto slice = q.tag.value_or("*");
  auto st = impl_->store.ScanRaw(kCf, OrgKey(org, "x/" + slice + "/"), DayBefore(days.from),
                                 [&](std::string_view rest, std::string_view value) {
                                   // rest = <day>/<user>
                                   if (rest.size() < 10 || rest.substr(0, 8) > days.to) return false;
                                   per_user[std::string(rest.substr(9))].AddEncoded(value);
                                   return true;
                                 });
  if (!st) return st.take_error();
  std::map<std::string, std::int64_t> load;
  if (auto c = impl_->store.ListCounters(org, "open_assignments/")) {
    for (auto& [user, v] : *c) {
      if (v > 0) load[user] = v;
    }
  }
  // Every expert is listed (an expert with nothing to do is a finding too), plus anyone with figures.
  std::set<std::string> ids;
  for (const auto& [u, _] : per_user) ids.insert(u);
  for (const auto& [u, _] : load) ids.insert(u);
  std::optional<std::string> after;
  for (int pages = 0; pages < 100; ++pages) {
    auto page = impl_->store.ListUsers(org, core::Role::kExpert, after, 200);
    if (!page) return page.take_error();
    for (const auto& u : page->items) ids.insert(u.id);
    if (!page->next_key) break;
    after = page->next_key;
  }
  std::vector<ExpertFigures> out;
  for (const auto& id : ids) {
    auto user = impl_->store.GetUser(org, id);
    if (!user) continue;  // removed since
    ExpertFigures f;
    f.user = std::move(user).value();
    const auto& r = per_user[id];
    f.assignments = r.Get(field::kAssigned);
    f.declined = r.Get(field::kDeclined);
    f.answered = r.Get(field::kAnswered);
    f.accepted_answers = r.Get(field::kAcceptedAnswers);
    if (f.answered > 0) f.accepted_rate = static_cast<double>(f.accepted_answers) / static_cast<double>(f.answered);
    insights::LatencyHistogram h;
    r.AddHistogram(field::kAnswerTimeBase, h);
    f.answer_time = FiguresOf(h);
    f.open_load = load.count(id) ? load[id] : 0;
    out.push_back(std::move(f));
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(b.assignments, b.answered) < std::tie(a.assignments, a.answered);
  });
  return out;
}

Result<InsightsGaps> InsightsService::Gaps(const Caller& caller, const GapsQuery& q) const {
  if (auto st = CheckInsightsReader(caller); !st) return st.take_error();
  const auto& org = caller.org_id();
  auto days = Impl::RangeOf(q.period);
  InsightsGaps out;

  // Day-keyed counters "<name>/<day>[/<item>]" summed over the period.
  auto sum_counters = [&](const std::string& name) -> Result<std::map<std::string, std::int64_t>> {
    std::map<std::string, std::int64_t> totals;
    auto c = impl_->store.ListCounters(org, name + "/");
    if (!c) return c.take_error();
    for (const auto& [rest, v] : *c) {
      if (rest.size() < 8 || !days.Contains(std::string_view(rest).substr(0, 8))) continue;
      totals[rest.size() > 9 ? rest.substr(9) : std::string()] += v;
    }
    return totals;
  };
  auto top = [&](const std::map<std::string, std::int64_t>& m) {
    std::vector<TermCount> v;
    for (const auto& [k, n] : m) {
      if (n > 0) v.push_back({k, n});
    }
    std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.count > b.count; });
    if (v.size() > q.limit) v.resize(q.limit);
    return v;
  };
  auto searches = sum_counters("searches");
  auto empty = sum_counters("searches_empty");
  auto terms = sum_counters("search_miss_term");
  auto miss_tags = sum_counters("search_miss_tag");
  auto suggested = sum_counters("suggested_tag");
  auto deflected = sum_counters("deflected_tag");
  for (auto* r : {&searches, &empty, &terms, &miss_tags, &suggested, &deflected}) {
    if (!*r) return r->take_error();
  }
  out.searches = (*searches)[""];
  out.searches_empty = (*empty)[""];
  out.missed_terms = top(*terms);
  out.missed_tags = top(*miss_tags);

  std::map<std::string, SliceAccumulator> tags;
  if (auto st = impl_->SumClass(org, "t", "", days, tags); !st) return st.take_error();
  for (const auto& f : Impl::Ranked(tags, q.sla_seconds, 0)) {
    TagGap g{f.name, f.threads, f.unanswered, 0, f.first_answer};
    (void)impl_->store.ScanRaw(keys::kCfTagExperts, keys::Join(org, f.name) + "/", std::nullopt,
                               [&](std::string_view, std::string_view) {
                                 ++g.experts;
                                 return true;
                               });
    if (g.experts == 0 && out.uncovered_tags.size() < q.limit) out.uncovered_tags.push_back(g);
    if (f.first_answer.p50_seconds && *f.first_answer.p50_seconds > q.sla_seconds) out.slow_tags.push_back(g);
  }
  std::stable_sort(out.slow_tags.begin(), out.slow_tags.end(), [](const auto& a, const auto& b) {
    return a.first_answer.p50_seconds > b.first_answer.p50_seconds;
  });
  if (out.slow_tags.size() > q.limit) out.slow_tags.resize(q.limit);

  for (const auto& [tag, shown] : *suggested) {
    if (shown <= 0) continue;
    TagDeflection d{tag, shown, (*deflected)[tag], std::nullopt};
    d.rate = static_cast<double>(d.deflected) / static_cast<double>(d.suggested);
    out.deflection.push_back(std::move(d));
  }
  std::stable_sort(out.deflection.begin(), out.deflection.end(),
                   [](const auto& a, const auto& b) { return a.suggested > b.suggested; });
  if (out.deflection.size() > q.limit) out.deflection.resize(q.limit);
  return out;
}

// ---- the weekly digest --------------------------------------------------------------------------

void InsightsService::SetDigestTopicsProvider(DigestTopicsProvider provider) {
  std::lock_guard lock(impl_->topics_mu);
  impl_->topics = std::move(provider);
}

Result<InsightsDigest> InsightsService::DigestOf(const std::string& org) const {
  auto now = impl_->clock.Now();
  InsightsDigest d;
  d.period = {now - std::chrono::days(7), now};
  SummaryQuery q{d.period, std::nullopt, std::nullopt, 24 * 3600, 5};
  auto s = SummaryOf(org, q);
  if (!s) return s.take_error();
  d.summary = std::move(s).value();
  {
    std::lock_guard lock(impl_->topics_mu);
    if (impl_->topics) {
      try {
        d.topics = impl_->topics(org, d.period.from, d.period.to);
      } catch (const std::exception& e) {
        spdlog::warn("insights digest: topics unavailable: {}", e.what());
      }
    }
  }
  if (d.topics.size() > 5) d.topics.resize(5);
  const auto& o = d.summary.overall;
  auto share = o.within_sla_share ? fmt::format("{:.0f} %", *o.within_sla_share * 100) : std::string("n/a");
  d.title = fmt::format("Weekly insights: {} new threads, {} answered within 24 h", o.threads, share);
  auto kind_total = [&](core::ThreadKind k) {
    std::int64_t n = 0;
    for (const auto& [status, c] : d.summary.by_kind[k]) n += c;
    return n;
  };
  std::string text = fmt::format("{} to {} (UTC)\n", core::FormatRfc3339(d.period.from).substr(0, 10),
                                 core::FormatRfc3339(d.period.to).substr(0, 10));
  text += fmt::format("New threads: {} (questions {}, feature requests {}, complaints {}, tips {}); still unanswered: {}\n",
                      o.threads, kind_total(core::ThreadKind::kQuestion), kind_total(core::ThreadKind::kFeatureRequest),
                      kind_total(core::ThreadKind::kComplaint), kind_total(core::ThreadKind::kTip), o.unanswered);
  text += fmt::format("Time to first answer: median {}, p90 {}; answered within 24 h: {} ({} of {})\n",
                      OptDuration(o.first_answer.p50_seconds), OptDuration(o.first_answer.p90_seconds), share,
                      o.answered_within_sla, o.answered);
  text += fmt::format("Escalations: {}\n", o.escalations);
  if (!d.topics.empty()) {
    text += "\nTop topics:\n";
    for (const auto& t : d.topics) text += fmt::format("- {} ({} threads)\n", t.label, t.threads);
  }
  if (!d.summary.oldest_unanswered.empty()) {
    text += "\nSlowest unanswered:\n";
    for (const auto& u : d.summary.oldest_unanswered) {
      text += fmt::format("- {} (waiting {})\n", u.title, HumanDuration(insights::SecondsBetween(u.created_at, now)));
    }
  }
  d.text = std::move(text);
  return d;
}

Result<InsightsDigest> InsightsService::PreviewDigest(const Caller& caller) const {
  if (auto st = CheckInsightsReader(caller); !st) return st.take_error();
  return DigestOf(caller.org_id());
}

Result<DigestSubscription> InsightsService::GetDigestSubscription(const Caller& caller) const {
  if (auto st = CheckInsightsReader(caller); !st) return st.take_error();
  auto v = impl_->store.GetRaw(keys::kCfDigestSubscriptions, keys::Join(caller.org_id(), caller.user.id));
  if (!v) return v.take_error();
  return *v ? DecodeSubscription(**v) : DigestSubscription{};
}

Result<Written<DigestSubscription>> InsightsService::PutDigestSubscription(const Caller& caller, bool subscribed) {
  auto current = GetDigestSubscription(caller);
  if (!current) return current.take_error();
  current->subscribed = subscribed;
  storage::Mutation m;
  m.PutRaw(keys::kCfDigestSubscriptions, keys::Join(caller.org_id(), caller.user.id), EncodeSubscription(*current));
  core::Event e;
  e.type = core::EventType::kDigestSubscriptionChanged;
  e.org_id = caller.org_id();
  e.user_id = caller.user.id;
  e.actor_id = caller.user.id;
  e.at = impl_->clock.Now();
  m.AddEvent(std::move(e));
  auto seq = impl_->store.Commit(std::move(m));
  if (!seq) return seq.take_error();
  return Written<DigestSubscription>{std::move(current).value(), *seq};
}

Result<Written<std::size_t>> InsightsService::Send(const std::string& org, const std::vector<core::User>& to,
                                                   const std::optional<std::string>& week,
                                                   const std::optional<std::string>& actor) {
  auto d = DigestOf(org);
  if (!d) return d.take_error();
  auto now = impl_->clock.Now();
  storage::Mutation m;
  for (const auto& u : to) {
    core::Notification n;
    n.id = core::NewId("n", now);
    n.org_id = org;
    n.type = core::kNotifyInsightsDigest;
    n.recipient_user_id = u.id;
    n.created_at = now;
    const auto& o = d->summary.overall;
    n.data_json = json::serialize(json::object{
        {"title", d->title},
        {"excerpt", d->text},
        {"period_from", core::FormatRfc3339(d->period.from)},
        {"period_to", core::FormatRfc3339(d->period.to)},
        {"threads", o.threads},
        {"unanswered", o.unanswered},
        {"within_sla_share", o.within_sla_share ? json::value(*o.within_sla_share) : json::value(nullptr)}});
    notify::Enqueue(m, n);
    if (week) {
      m.PutRaw(keys::kCfDigestSubscriptions, keys::Join(org, u.id), EncodeSubscription({true, week}));
    }
  }
  core::Event e;
  e.type = core::EventType::kDigestSent;
  e.org_id = org;
  e.actor_id = actor;
  e.at = now;
  m.AddEvent(std::move(e));
  auto seq = impl_->store.Commit(std::move(m));
  if (!seq) return seq.take_error();
  return Written<std::size_t>{to.size(), *seq};
}

Result<Written<std::size_t>> InsightsService::SendDigestNow(const Caller& caller) {
  if (caller.user.role != core::Role::kAdmin) {
    return Error::Make(ErrorCode::kForbidden, "only admins can send the digest on demand");
  }
  std::vector<core::User> to;
  auto st = impl_->store.ScanRaw(keys::kCfDigestSubscriptions, keys::OrgPrefix(caller.org_id()), std::nullopt,
                                 [&](std::string_view user_id, std::string_view value) {
                                   if (!DecodeSubscription(value).subscribed) return true;
                                   auto u = impl_->store.GetUser(caller.org_id(), std::string(user_id));
                                   if (u && core::CanReadInsights(*u)) to.push_back(std::move(u).value());
                                   return true;
                                 });
  if (!st) return st.take_error();
  return Send(caller.org_id(), to, std::nullopt, caller.user.id);
}

std::size_t InsightsService::RunWeeklyDigests() {
  auto now = impl_->clock.Now();
  const auto this_week = WeekOf(now);
  const std::string& week = this_week.first;
  const core::TimePoint due = this_week.second;
  if (now < due) return 0;
  std::map<std::string, std::vector<core::User>> due_by_org;
  (void)impl_->store.ScanRaw(keys::kCfDigestSubscriptions, "", std::nullopt,
                             [&](std::string_view key, std::string_view value) {
                               auto s = DecodeSubscription(value);
                               if (!s.subscribed || s.last_sent_week == week) return true;
                               auto slash = key.find('/');
                               if (slash == std::string_view::npos) return true;
                               std::string org(key.substr(0, slash));
                               auto u = impl_->store.GetUser(org, std::string(key.substr(slash + 1)));
                               if (u && core::CanReadInsights(*u)) due_by_org[org].push_back(std::move(u).value());
                               return true;
                             });
  std::size_t sent = 0;
  for (const auto& [org, users] : due_by_org) {
    auto n = Send(org, users, week, std::nullopt);
    if (n) {
      sent += n->value;
    } else {
      spdlog::error("insights digest for org {} not sent: {}", org, n.error().cause);
    }
  }
  if (sent > 0) spdlog::info("insights: weekly digest sent to {} subscribers (week of {})", sent, week);
  return sent;
}

}  // namespace streetwise::service
