#include "service/routing_service.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>

#include "core/crypto.hpp"
#include "core/notification.hpp"
#include "core/validation.hpp"
#include "indexer/search_index.hpp"
#include "notify/outbox.hpp"
#include "storage/keys.hpp"

namespace streetwise::service {
using core::Error;
using core::ErrorCode;
using core::Result;
namespace json = boost::json;
namespace keys = storage::keys;

namespace {

constexpr std::string_view kSettingsKey = "_settings";  // in kCfRouting, beside org/<thread_id>
// A thread created this long before its thread.created event (an import of history) is not routed.
constexpr std::int64_t kImportedHistoryMs = 7LL * 24 * 3600 * 1000;

// ---- small JSON helpers -----------------------------------------------------------------------

std::int64_t Ms(core::TimePoint t) { return core::ToUnixMillis(t); }
core::TimePoint FromMs(const json::value& v) { return core::FromUnixMillis(v.to_number<std::int64_t>()); }

json::value OptMs(const std::optional<core::TimePoint>& t) { return t ? json::value(Ms(*t)) : json::value(nullptr); }
std::optional<core::TimePoint> OptTime(const json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  if (!v || v->is_null()) return std::nullopt;
  return FromMs(*v);
}
json::array Strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}
std::vector<std::string> Strings(const json::value& v) {
  std::vector<std::string> out;
  for (const auto& s : v.as_array()) out.emplace_back(s.as_string());
  return out;
}

template <class T, class F>
Result<T> DecodeJson(std::string_view s, std::string_view what, F f) {
  try {
    auto v = json::parse(s);
    return f(v.as_object());
  } catch (const std::exception& e) {
    return Error::Internal(fmt::format("cannot decode stored {}: {}", what, e.what()));
  }
}

// ---- persisted formats ------------------------------------------------------------------------

std::string EncodeExpertise(const routing::Expertise& e) {
  json::array tags;
  for (const auto& [tag, level] : e.tags) tags.push_back(json::object{{"tag", tag}, {"level", level}});
  json::array days;
  for (int d = 0; d < 7; ++d) {
    if (e.hours.days[d]) days.emplace_back(routing::kWeekdayNames[d]);
  }
  json::object o{{"fv", 1},
                 {"user_id", e.user_id},
                 {"tags", std::move(tags)},
                 {"timezone", e.timezone},
                 {"working_hours", json::object{{"start", routing::FormatHhMm(e.hours.start_minute)},
                                                {"end", routing::FormatHhMm(e.hours.end_minute)},
                                                {"days", std::move(days)}}},
                 {"max_open", e.max_open},
                 {"away_until", OptMs(e.away_until)},
                 {"watch_tags", Strings(std::vector<std::string>(e.watch_tags.begin(), e.watch_tags.end()))}};
  return json::serialize(o);
}


Result<routing::Expertise> DecodeExpertise(std::string_view s) {
  return DecodeJson<routing::Expertise>(s, "expertise", [](const json::object& o) {
    routing::Expertise e;
    e.user_id = std::string(o.at("user_id").as_string());
    for (const auto& t : o.at("tags").as_array()) {
      e.tags[std::string(t.at("tag").as_string())] = static_cast<int>(t.at("level").to_number<std::int64_t>());
    }
    e.timezone = std::string(o.at("timezone").as_string());
    const auto& wh = o.at("working_hours").as_object();
    e.hours.start_minute = routing::ParseHhMm(wh.at("start").as_string());
    e.hours.end_minute = routing::ParseHhMm(wh.at("end").as_string());
    e.hours.days.fill(false);
    for (const auto& d : wh.at("days").as_array()) {
      int day = routing::WeekdayIndex(d.as_string());
      if (day >= 0) e.hours.days[static_cast<std::size_t>(day)] = true;
    }
    e.max_open = static_cast<int>(o.at("max_open").to_number<std::int64_t>());
    e.away_until = OptTime(o, "away_until");
    for (const auto& w : Strings(o.at("watch_tags"))) e.watch_tags.insert(w);
    return e;
  });
}

constexpr std::array<std::pair<AssignmentStatus, std::string_view>, 5> kStatuses{{
    {AssignmentStatus::kOpen, "open"},
    {AssignmentStatus::kClaimed, "claimed"},
    {AssignmentStatus::kDeclined, "declined"},
    {AssignmentStatus::kAnswered, "answered"},
    {AssignmentStatus::kClosed, "closed"}}};

std::string EncodeAssignment(const Assignment& a) {
  json::object o{{"fv", 1},
                 {"id", a.id},
                 {"org_id", a.org_id},
                 {"thread_id", a.thread_id},
                 {"user_id", a.user_id},
                 {"round", a.round},
                 {"status", ToString(a.status)},
                 {"created_at", Ms(a.created_at)},
                 {"due_at", Ms(a.due_at)},
                 {"claimed_until", OptMs(a.claimed_until)},
                 {"decline_reason", a.decline_reason ? json::value(*a.decline_reason) : json::value(nullptr)},
                 {"closed_at", OptMs(a.closed_at)},
                 {"fallback", a.fallback}};
  return json::serialize(o);
}

Result<Assignment> DecodeAssignment(std::string_view s) {
  return DecodeJson<Assignment>(s, "assignment", [](const json::object& o) {
    Assignment a;
    a.id = std::string(o.at("id").as_string());
    a.org_id = std::string(o.at("org_id").as_string());
    a.thread_id = std::string(o.at("thread_id").as_string());
    a.user_id = std::string(o.at("user_id").as_string());
    a.round = static_cast<int>(o.at("round").to_number<std::int64_t>());
    std::string_view status = o.at("status").as_string();
    for (const auto& [v, name] : kStatuses) {
      if (name == status) a.status = v;
    }
    a.created_at = FromMs(o.at("created_at"));
    a.due_at = FromMs(o.at("due_at"));
    a.claimed_until = OptTime(o, "claimed_until");
    if (auto* r = o.if_contains("decline_reason"); r && r->is_string()) a.decline_reason = std::string(r->as_string());
    a.closed_at = OptTime(o, "closed_at");
    a.fallback = o.at("fallback").as_bool();
    return a;
  });
}

json::object CandidateJson(const routing::Candidate& c) {
  return json::object{{"user_id", c.user_id},         {"score", c.score},       {"in_working_hours", c.in_working_hours},
                      {"eligible", c.eligible},       {"selected", c.selected}, {"reason", c.reason}};
}

std::string EncodeRecord(const RoutingRecord& r) {
  json::array rounds;
  for (const auto& round : r.rounds) {
    json::array cands;
    for (const auto& c : round.candidates) cands.emplace_back(CandidateJson(c));
    rounds.push_back(json::object{{"round", round.round},
                                  {"at", Ms(round.at)},
                                  {"fallback", round.fallback},
                                  {"trigger", round.trigger},
                                  {"candidates", std::move(cands)}});
  }
  json::object o{{"fv", 1},          {"org_id", r.org_id},       {"thread_id", r.thread_id},
                 {"round", r.round}, {"escalated", r.escalated}, {"finished", r.finished},
                 {"tags", Strings(r.tags)}, {"asked", Strings(r.asked)}, {"rounds", std::move(rounds)}};
  return json::serialize(o);
}

Result<RoutingRecord> DecodeRecord(std::string_view s) {
  return DecodeJson<RoutingRecord>(s, "routing record", [](const json::object& o) {
    RoutingRecord r;
    r.org_id = std::string(o.at("org_id").as_string());
    r.thread_id = std::string(o.at("thread_id").as_string());
    r.round = static_cast<int>(o.at("round").to_number<std::int64_t>());
    r.escalated = o.at("escalated").as_bool();
    r.finished = o.at("finished").as_bool();
    r.tags = Strings(o.at("tags"));
    r.asked = Strings(o.at("asked"));
    for (const auto& rv : o.at("rounds").as_array()) {
      const auto& ro = rv.as_object();
      RoutingRound round;
      round.round = static_cast<int>(ro.at("round").to_number<std::int64_t>());
      round.at = FromMs(ro.at("at"));
      round.fallback = ro.at("fallback").as_bool();
      round.trigger = std::string(ro.at("trigger").as_string());
      for (const auto& cv : ro.at("candidates").as_array()) {
        const auto& co = cv.as_object();
        routing::Candidate c;
        c.user_id = std::string(co.at("user_id").as_string());
        c.score = co.at("score").to_number<double>();
        c.in_working_hours = co.at("in_working_hours").as_bool();
        c.eligible = co.at("eligible").as_bool();
        c.selected = co.at("selected").as_bool();
        c.reason = std::string(co.at("reason").as_string());
        round.candidates.push_back(std::move(c));
      }
      r.rounds.push_back(std::move(round));
    }
    return r;
  });
}

std::string EncodeSettings(const OrgRoutingSettings& s) {
  json::object o{{"fv", 1},
                 {"fanout", s.policy.fanout},
                 {"sla_seconds", s.policy.sla_seconds},
                 {"max_rounds", s.policy.max_rounds},
                 {"claim_window_seconds", s.policy.claim_window_seconds},
                 {"escalation_contacts", Strings(s.escalation_contacts)},
                 {"triage_users", Strings(s.triage_users)}};
  return json::serialize(o);
}

Result<OrgRoutingSettings> DecodeSettings(std::string_view s) {
  return DecodeJson<OrgRoutingSettings>(s, "routing settings", [](const json::object& o) {
    OrgRoutingSettings r;
    r.policy.fanout = static_cast<int>(o.at("fanout").to_number<std::int64_t>());
    r.policy.sla_seconds = o.at("sla_seconds").to_number<std::int64_t>();
    r.policy.max_rounds = static_cast<int>(o.at("max_rounds").to_number<std::int64_t>());
    r.policy.claim_window_seconds = o.at("claim_window_seconds").to_number<std::int64_t>();
    r.escalation_contacts = Strings(o.at("escalation_contacts"));
    r.triage_users = Strings(o.at("triage_users"));
    return r;
  });
}

struct Timer {
  std::string id;
  std::string org_id;
  std::string thread_id;
  int round = 0;
  core::TimePoint due_at;
};

std::string TimerKey(const Timer& t) {
  return keys::BigEndian64(static_cast<std::uint64_t>(Ms(t.due_at))) + "/" + t.id;
}

std::string EncodeTimer(const Timer& t) {
  return json::serialize(json::object{{"fv", 1},
                                      {"id", t.id},
                                      {"org_id", t.org_id},
                                      {"thread_id", t.thread_id},
                                      {"round", t.round},
                                      {"due_at", Ms(t.due_at)}});
}

Result<Timer> DecodeTimer(std::string_view s) {
  return DecodeJson<Timer>(s, "timer", [](const json::object& o) {
    return Timer{std::string(o.at("id").as_string()), std::string(o.at("org_id").as_string()),
                 std::string(o.at("thread_id").as_string()),
                 static_cast<int>(o.at("round").to_number<std::int64_t>()), FromMs(o.at("due_at"))};
  });
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

std::string_view ToString(AssignmentStatus s) {
  for (const auto& [v, name] : kStatuses) {
    if (v == s) return name;
  }
  return "open";
}

std::optional<DeclineReason> ParseDeclineReason(std::string_view s) {
  if (s == "not_my_area") return DeclineReason::kNotMyArea;
  if (s == "busy") return DeclineReason::kBusy;
  if (s == "away") return DeclineReason::kAway;
  if (s == "other") return DeclineReason::kOther;
  return std::nullopt;
}

namespace {
std::string_view ReasonName(DeclineReason r) {
  switch (r) {
    case DeclineReason::kNotMyArea: return "not_my_area";
    case DeclineReason::kBusy: return "busy";
    case DeclineReason::kAway: return "away";
    case DeclineReason::kOther: return "other";
  }
  return "other";
}
}  // namespace

// ---- Impl -------------------------------------------------------------------------------------

struct RoutingService::Impl {
  storage::Store& store;
  const core::Clock& clock;
  indexer::SearchIndex* index;
  mutable std::mutex mu;  // serialises every routing read-modify-write

  std::thread worker;
  std::atomic<bool> stopping{false};
  std::mutex wake_mu;
  std::condition_variable wake;
  std::atomic<std::uint64_t> position{0};
  std::uint64_t persisted_position = 0;
  std::atomic<std::uint64_t> escalations{0};

  Impl(storage::Store& s, const core::Clock& c, indexer::SearchIndex* i) : store(s), clock(c), index(i) {}

  // ---- reads ----

  OrgRoutingSettings Settings(const std::string& org) const {
    auto raw = store.GetRaw(keys::kCfRouting, keys::Join(org, kSettingsKey));
    if (raw && raw->has_value()) {
      if (auto s = DecodeSettings(**raw)) return *s;
    }
    return OrgRoutingSettings{};
  }

  // Counters under `prefix`, keyed by their full name ("open_assignments/<user>").
  std::map<std::string, std::int64_t> Counters(const std::string& org, const std::string& prefix) const {
    std::map<std::string, std::int64_t> out;
    if (auto c = store.ListCounters(org, prefix)) {
      for (auto& [k, v] : *c) out[prefix + k] = v;
    }
    return out;
  }

  Result<std::vector<routing::ExpertState>> Experts(const std::string& org) const {
    std::vector<routing::ExpertState> out;
    std::optional<Error> err;
    auto st = store.ScanRaw(keys::kCfExpertise, keys::OrgPrefix(org), std::nullopt,
                            [&](std::string_view, std::string_view value) {
                              auto e = DecodeExpertise(value);
                              if (!e) {
                                err = e.take_error();
                                return false;
                              }
                              out.push_back(routing::ExpertState{std::move(e).value(), 0, {}, {}, std::nullopt});
                              return true;
                            });
    if (!st) return st.take_error();
    if (err) return *err;
    auto open = Counters(org, "open_assignments/");
    auto accepted = Counters(org, "accepted/");
    auto declines = Counters(org, "not_my_area/");
    auto ms_sum = Counters(org, "answer_ms_sum/");
    auto ms_count = Counters(org, "answer_count/");
    for (auto& x : out) {
      const auto& u = x.expertise.user_id;
      x.open_assignments = static_cast<int>(std::max<std::int64_t>(0, open["open_assignments/" + u]));
      for (const auto& [tag, level] : x.expertise.tags) {
        x.accepted_by_tag[tag] = static_cast<int>(accepted["accepted/" + u + "/" + tag]);
        x.not_my_area_by_tag[tag] = static_cast<int>(declines["not_my_area/" + u + "/" + tag]);
      }
      if (auto n = ms_count["answer_count/" + u]; n > 0) {
        x.mean_answer_minutes = static_cast<double>(ms_sum["answer_ms_sum/" + u]) / n / 60000.0;
      }
    }
    return out;
  }

  std::optional<RoutingRecord> Record(const std::string& org, const std::string& thread_id) const {
    auto raw = store.GetRaw(keys::kCfRouting, keys::Join(org, thread_id));
    if (!raw || !raw->has_value()) return std::nullopt;
    auto r = DecodeRecord(**raw);
    if (!r) return std::nullopt;
    return std::move(r).value();
  }

  Result<Assignment> GetAssignment(const std::string& org, const std::string& id) const {
    auto raw = store.GetRaw(keys::kCfAssignments, keys::Join(org, id));
    if (!raw) return raw.take_error();
    if (!raw->has_value()) return Error::Make(ErrorCode::kNotFound, "assignment not found");
    return DecodeAssignment(**raw);
  }

  std::vector<Assignment> ThreadAssignments(const std::string& org, const std::string& thread_id) const {
    std::vector<std::string> ids;
    (void)store.ScanRaw(keys::kCfThreadAssignments, keys::Join(org, thread_id) + "/", std::nullopt,
                        [&](std::string_view id, std::string_view) {
                          ids.emplace_back(id);
                          return true;
                        });
    std::vector<Assignment> out;
    for (const auto& id : ids) {
      if (auto a = GetAssignment(org, id)) out.push_back(std::move(a).value());
    }
    return out;
  }

  std::vector<std::string> Admins(const std::string& org) const {
    std::vector<std::string> out;
    if (auto page = store.ListUsers(org, core::Role::kAdmin, std::nullopt, 100)) {
      for (const auto& u : page->items) out.push_back(u.id);
    }
    return out;
  }

  // ---- writes (all under mu, into one Mutation) ----

  bool Urgent(const core::Thread& t, core::TimePoint now) const {
    if (!t.deal.needed_by) return false;
    auto due = core::ParseTimestamp(*t.deal.needed_by, true);
    return due && core::ToUnixMillis(*due) - core::ToUnixMillis(now) <= 24LL * 3600 * 1000;
  }

  json::array Similar(const core::Thread& t) const {
    json::array out;
    if (!index) return out;
    indexer::SimilarRequest r;
    r.org_id = t.org_id;
    r.title = t.title;
    r.body = t.body;
    r.tags = t.tags;
    r.exclude_thread_id = t.id;
    r.limit = 3;
    if (auto hits = index->Similar(r)) {
      for (const auto& h : *hits) {
        out.push_back(json::object{{"thread_id", h.thread_id}, {"title", h.title}, {"accepted", h.accepted}});
      }
    }
    return out;
  }

  void Notify(storage::Mutation& m, const char* type, const core::Thread& t, const std::string& recipient,
              const std::optional<std::string>& assignment_id, json::object data, core::TimePoint now) const {
    core::Notification n;
    n.id = core::NewId("n", now);
    n.org_id = t.org_id;
    n.type = type;
    n.thread_id = t.id;
    n.recipient_user_id = recipient;
    n.assignment_id = assignment_id;
    n.urgent = Urgent(t, now);
    n.created_at = now;
    data["title"] = t.title;
    data["tags"] = Strings(t.tags);
    data["kind"] = core::ToString(t.kind);
    if (t.deal.needed_by) data["needed_by"] = *t.deal.needed_by;
    if (t.deal.account) data["account"] = *t.deal.account;
    if (t.deal.region) data["region"] = *t.deal.region;
    n.data_json = json::serialize(data);
    notify::Enqueue(m, n);
  }

  void PutAssignment(storage::Mutation& m, const Assignment& a) const {
    m.PutRaw(keys::kCfAssignments, keys::Join(a.org_id, a.id), EncodeAssignment(a));
  }

  Assignment Assign(storage::Mutation& m, const core::Thread& t, const std::string& user, int round, bool fallback,
                    const OrgRoutingSettings& s, core::TimePoint now, const json::array& similar) const {
    Assignment a;
    a.id = core::NewId("g", now);
    a.org_id = t.org_id;
    a.thread_id = t.id;
    a.user_id = user;
    a.round = round;
    a.created_at = now;
    a.due_at = core::FromUnixMillis(Ms(now) + s.policy.sla_seconds * 1000);
    a.fallback = fallback;
    PutAssignment(m, a);
    m.PutRaw(keys::kCfThreadAssignments, keys::Join(t.org_id, t.id, a.id), "");
    m.PutRaw(keys::kCfUserAssignments, keys::Join(t.org_id, user, a.id), "");
    m.AddToCounter(t.org_id, "open_assignments/" + user, 1);
    core::Event e;
    e.type = core::EventType::kAssignmentCreated;
    e.org_id = t.org_id;
    e.thread_id = t.id;
    e.user_id = user;
    e.at = now;
    m.AddEvent(e);
    Notify(m, core::kNotifyAssignmentCreated, t, user, a.id,
           json::object{{"round", round}, {"due_at", core::FormatRfc3339(a.due_at)}, {"fallback", fallback},
                        {"similar", similar}},
           now);
    return a;
  }

  void CloseAssignment(storage::Mutation& m, Assignment a, AssignmentStatus status, core::TimePoint now) const {
    bool was_open = a.status == AssignmentStatus::kOpen || a.status == AssignmentStatus::kClaimed;
    a.status = status;
    a.closed_at = now;
    PutAssignment(m, a);
    if (was_open) {
      m.DeleteRaw(keys::kCfUserAssignments, keys::Join(a.org_id, a.user_id, a.id));
      m.AddToCounter(a.org_id, "open_assignments/" + a.user_id, -1);
    }
  }

  void PutTimer(storage::Mutation& m, const std::string& org, const std::string& thread_id, int round,
                core::TimePoint due) const {
    Timer t{core::NewId("x", due), org, thread_id, round, due};
    m.PutRaw(keys::kCfTimers, TimerKey(t), EncodeTimer(t));
  }

  // Runs one routing round: ranks, assigns the selected experts (or the triage group when nobody
  // covers the tags and `allow_fallback`), and records why. Returns how many were assigned.
  int RouteRound(storage::Mutation& m, RoutingRecord& rec, const core::Thread& t, const OrgRoutingSettings& s,
                 int picks, const std::string& trigger, const std::vector<std::string>& only_tags,
                 bool allow_fallback, core::TimePoint now) {
    auto experts = Experts(t.org_id);
    routing::RoutingRequest req;
    req.tags = only_tags.empty() ? t.tags : only_tags;
    req.author_id = t.author_id;
    req.now = now;
    req.already_asked = std::set<std::string>(rec.asked.begin(), rec.asked.end());
    req.picks = picks;
    RoutingRound round;
    round.round = rec.round;
    round.at = now;
    round.trigger = trigger;
    round.candidates = experts ? routing::RankExperts(req, *experts) : std::vector<routing::Candidate>{};
    std::vector<std::string> chosen;
    for (const auto& c : round.candidates) {
      if (c.selected) chosen.push_back(c.user_id);
    }
    if (chosen.empty() && allow_fallback) {
      auto triage = s.triage_users.empty() ? Admins(t.org_id) : s.triage_users;
      for (const auto& u : triage) {
        if (u == t.author_id || Contains(rec.asked, u)) continue;
        chosen.push_back(u);
        routing::Candidate c;
        c.user_id = u;
        c.eligible = c.selected = true;
        c.reason = "fallback triage group: no expert covers these tags";
        round.candidates.push_back(c);
      }
      round.fallback = !chosen.empty();
    }
    auto similar = chosen.empty() ? json::array{} : Similar(t);
    for (const auto& u : chosen) {
      Assign(m, t, u, rec.round, round.fallback, s, now, similar);
      rec.asked.push_back(u);
    }
    rec.rounds.push_back(std::move(round));
    return static_cast<int>(chosen.size());
  }

  void PutRecord(storage::Mutation& m, const RoutingRecord& r) const {
    m.PutRaw(keys::kCfRouting, keys::Join(r.org_id, r.thread_id), EncodeRecord(r));
  }

  Result<std::uint64_t> Commit(storage::Mutation&& m, std::uint64_t seq) {
    if (seq > 0) m.SetMeta(keys::kMetaRouterPosition, std::to_string(seq));
    auto r = store.Commit(std::move(m));
    if (r && seq > 0) persisted_position = seq;
    return r;
  }

  // ---- change-log handlers ----

  // Returns true if the event needed (and got) a commit.
  bool HandleEvent(const core::Event& e) {
    std::lock_guard lock(mu);
    auto now = clock.Now();
    if (!e.thread_id) return false;
    const std::string& org = e.org_id;
    storage::Mutation m;
    switch (e.type) {
      case core::EventType::kThreadCreated: {
        auto t = store.GetThread(org, *e.thread_id);
        if (!t || Record(org, t->id)) return false;
        // History brought in by `streetwise import` (created long before it arrived here) is
        // archived, not routed: nobody should be asked today about a question from last year.
        if (Ms(e.at) - Ms(t->created_at) > kImportedHistoryMs) return false;
        bool routed = false;
        RoutingRecord rec{org, t->id, 1, false, false, t->tags, {}, {}};
        if (t->kind == core::ThreadKind::kQuestion && t->status == core::ThreadStatus::kOpen) {
          auto s = Settings(org);
          RouteRound(m, rec, *t, s, s.policy.fanout, "created", {}, true, now);
          PutRecord(m, rec);
          PutTimer(m, org, t->id, 1, core::FromUnixMillis(Ms(now) + s.policy.sla_seconds * 1000));
          routed = true;
        }
        // Watchers of the thread's tags hear about it (not assigned; never twice; not the author).
        std::set<std::string> told(rec.asked.begin(), rec.asked.end());
        told.insert(t->author_id);
        for (const auto& tag : t->tags) {
          std::vector<std::string> watchers;
          (void)store.ScanRaw(keys::kCfWatches, keys::Join(org, tag) + "/", std::nullopt,
                              [&](std::string_view user, std::string_view) {
                                watchers.emplace_back(user);
                                return true;
                              });
          for (const auto& w : watchers) {
            if (!told.insert(w).second) continue;
            Notify(m, core::kNotifyWatchedTag, *t, w, std::nullopt, json::object{{"tag", tag}}, now);
            routed = true;
          }
        }
        if (!routed) return false;
        break;
      }
      case core::EventType::kThreadEdited: {
        auto t = store.GetThread(org, *e.thread_id);
        auto rec = Record(org, *e.thread_id);
        if (!t || !rec || rec->finished || t->status != core::ThreadStatus::kOpen) return false;
        std::vector<std::string> added;
        for (const auto& tag : t->tags) {
          if (!Contains(rec->tags, tag)) added.push_back(tag);
        }
        if (added.empty()) return false;
        rec->tags = t->tags;
        auto s = Settings(org);
        RouteRound(m, *rec, *t, s, s.policy.fanout, "retagged", added, false, now);
        PutRecord(m, *rec);
        break;
      }
      case core::EventType::kAnswerCreated:
      case core::EventType::kThreadDeleted:
      case core::EventType::kThreadStatusChanged: {
        auto rec = Record(org, *e.thread_id);
        if (!rec || rec->finished) return false;
        auto t = store.GetThread(org, *e.thread_id);
        if (e.type == core::EventType::kThreadStatusChanged && t && t->status == core::ThreadStatus::kOpen) return false;
        std::optional<std::string> answerer;
        if (e.type == core::EventType::kAnswerCreated && t && e.answer_id) {
          if (const auto* a = t->FindAnswer(*e.answer_id)) answerer = a->author_id;
        }
        for (auto& a : ThreadAssignments(org, *e.thread_id)) {
          if (a.status != AssignmentStatus::kOpen && a.status != AssignmentStatus::kClaimed) continue;
          bool by_assignee = answerer && *answerer == a.user_id;
          if (by_assignee) {
            m.AddToCounter(org, "answer_ms_sum/" + a.user_id, Ms(now) - Ms(a.created_at));
            m.AddToCounter(org, "answer_count/" + a.user_id, 1);
          }
          CloseAssignment(m, a, by_assignee ? AssignmentStatus::kAnswered : AssignmentStatus::kClosed, now);
        }
        rec->finished = true;
        PutRecord(m, *rec);
        break;
      }
      case core::EventType::kAnswerAccepted: {
        if (!e.answer_id) return false;
        auto t = store.GetThread(org, *e.thread_id);
        if (!t) return false;
        const auto* a = t->FindAnswer(*e.answer_id);
        if (!a) return false;
        for (const auto& tag : t->tags) m.AddToCounter(org, "accepted/" + a->author_id + "/" + tag, 1);
        break;
      }
      default:
        return false;
    }
    auto r = Commit(std::move(m), e.seq);
    if (!r) spdlog::error("routing: event {} not applied: {}", e.seq, r.error().cause);
    return r.ok();
  }

  void FireTimer(const std::string& key, const Timer& timer) {
    std::lock_guard lock(mu);
    auto now = clock.Now();
    storage::Mutation m;
    m.DeleteRaw(keys::kCfTimers, key);  // in the same batch as its effects: never fires twice
    auto rec = Record(timer.org_id, timer.thread_id);
    auto t = store.GetThread(timer.org_id, timer.thread_id);
    if (rec && !rec->finished && !rec->escalated && rec->round == timer.round && t &&
        t->status == core::ThreadStatus::kOpen) {
      auto s = Settings(timer.org_id);
      auto assignments = ThreadAssignments(timer.org_id, timer.thread_id);
      std::optional<core::TimePoint> claimed_until;
      for (const auto& a : assignments) {
        if (a.status == AssignmentStatus::kClaimed && a.claimed_until && *a.claimed_until > now) {
          claimed_until = std::max(claimed_until.value_or(*a.claimed_until), *a.claimed_until);
        }
      }
      if (claimed_until) {
        PutTimer(m, timer.org_id, timer.thread_id, timer.round, *claimed_until);  // a claim pauses escalation
      } else if (rec->round >= s.policy.max_rounds) {
        auto contacts = s.escalation_contacts.empty() ? Admins(timer.org_id) : s.escalation_contacts;
        for (const auto& c : contacts) {
          Notify(m, core::kNotifyThreadEscalated, *t, c, std::nullopt,
                 json::object{{"rounds", rec->round}, {"asked", Strings(rec->asked)}}, now);
        }
        rec->escalated = true;
        PutRecord(m, *rec);
        core::Event e;
        e.type = core::EventType::kThreadEscalated;
        e.org_id = timer.org_id;
        e.thread_id = timer.thread_id;
        e.at = now;
        m.AddEvent(e);
        ++escalations;
      } else {
        for (const auto& a : assignments) {
          if (a.status != AssignmentStatus::kOpen) continue;
          Notify(m, core::kNotifyAssignmentReminder, *t, a.user_id, a.id,
                 json::object{{"round", rec->round}, {"due_at", core::FormatRfc3339(a.due_at)}}, now);
        }
        rec->round += 1;
        RouteRound(m, *rec, *t, s, s.policy.fanout * rec->round, "escalation", {}, true, now);
        PutRecord(m, *rec);
        PutTimer(m, timer.org_id, timer.thread_id, rec->round,
                 core::FromUnixMillis(Ms(now) + s.policy.sla_seconds * 1000));
      }
    }
    if (auto r = store.Commit(std::move(m)); !r) spdlog::error("routing: timer {} not applied: {}", timer.id, r.error().cause);
  }

  // Fires every timer due by now; returns how many.
  int FireDueTimers() {
    auto now_ms = static_cast<std::uint64_t>(Ms(clock.Now()));
    std::vector<std::pair<std::string, Timer>> due;
    (void)store.ScanRaw(keys::kCfTimers, "", std::nullopt, [&](std::string_view key, std::string_view value) {
      if (keys::ParseBigEndian64(key.substr(0, 8)) > now_ms || due.size() >= 100) return false;
      if (auto t = DecodeTimer(value)) due.emplace_back(std::string(key), std::move(t).value());
      return true;
    });
    for (const auto& [key, t] : due) FireTimer(key, t);
    return static_cast<int>(due.size());
  }

  void Loop() {
    while (!stopping.load()) {
      bool busy = false;
      auto events = store.ReadChangeLog(position.load(), 200);
      if (events) {
        for (const auto& e : *events) {
          HandleEvent(e);
          position = e.seq;
          busy = true;
        }
      }
      // Events that needed no action advance the position in memory; persist it now and then so
      // a restart does not re-read a long tail (re-reading them would be harmless).
      if (!busy && position.load() > persisted_position) {
        storage::Mutation m;
        std::lock_guard lock(mu);
        (void)Commit(std::move(m), position.load());
      }
      busy = FireDueTimers() > 0 || busy;
      if (!busy) {
        std::unique_lock lock(wake_mu);
        wake.wait_for(lock, std::chrono::milliseconds(50), [this] { return stopping.load(); });
      }
    }
  }
};

// ---- RoutingService -----------------------------------------------------------------------------

RoutingService::RoutingService(storage::Store& store, const core::Clock& clock, indexer::SearchIndex* index)
    : impl_(std::make_unique<Impl>(store, clock, index)) {
  if (auto p = store.GetMeta(keys::kMetaRouterPosition); p && p->has_value()) {
    impl_->position = std::stoull(**p);
    impl_->persisted_position = impl_->position;
  }
}

RoutingService::~RoutingService() { Stop(); }

void RoutingService::Start() {
  if (impl_->worker.joinable()) return;
  impl_->stopping = false;
  impl_->worker = std::thread([this] { impl_->Loop(); });
}

void RoutingService::Stop() {
  impl_->stopping = true;
  impl_->wake.notify_all();
  if (impl_->worker.joinable()) impl_->worker.join();
}

std::uint64_t RoutingService::Position() const { return impl_->position.load(); }
std::uint64_t RoutingService::EscalationsFired() const { return impl_->escalations.load(); }

Result<Written<routing::Expertise>> RoutingService::PutExpertise(const Caller& caller, const std::string& user_id,
                                                                 routing::Expertise e) {
  auto user = impl_->store.GetUser(caller.org_id(), user_id);
  if (!user) return user.take_error();
  if (caller.user.id != user_id && caller.user.role != core::Role::kAdmin) {
    return Error::Make(ErrorCode::kForbidden, "only the user or an admin can change their expertise");
  }
  auto invalid = [](std::string pointer, std::string detail) {
    Error err = Error::Make(ErrorCode::kInvalidArgument, detail);
    err.fields.push_back({std::move(pointer), std::move(detail)});
    return err;
  };
  if (!routing::IsKnownTimeZone(e.timezone)) {
    return invalid("#/timezone", fmt::format("'{}' is not an IANA time zone (e.g. Europe/Berlin)", e.timezone));
  }
  if (e.hours.start_minute < 0 || e.hours.end_minute < 0 || e.hours.start_minute == e.hours.end_minute) {
    return invalid("#/working_hours", "working_hours start and end must be different HH:MM times");
  }
  if (e.max_open < 1) return invalid("#/max_open", "max_open must be at least 1");
  e.user_id = user_id;
  std::lock_guard lock(impl_->mu);
  std::optional<routing::Expertise> before;
  if (auto raw = impl_->store.GetRaw(keys::kCfExpertise, keys::Join(caller.org_id(), user_id)); raw && raw->has_value()) {
    if (auto old = DecodeExpertise(**raw)) before = std::move(old).value();
  }
  storage::Mutation m;
  m.PutRaw(keys::kCfExpertise, keys::Join(caller.org_id(), user_id), EncodeExpertise(e));
  if (before) {
    for (const auto& [tag, level] : before->tags) {
      if (!e.tags.count(tag)) m.DeleteRaw(keys::kCfTagExperts, keys::Join(caller.org_id(), tag, user_id));
    }
    for (const auto& tag : before->watch_tags) {
      if (!e.watch_tags.count(tag)) m.DeleteRaw(keys::kCfWatches, keys::Join(caller.org_id(), tag, user_id));
    }
  }
  for (const auto& [tag, level] : e.tags) {
    m.PutRaw(keys::kCfTagExperts, keys::Join(caller.org_id(), tag, user_id), std::to_string(level));
  }
  for (const auto& tag : e.watch_tags) m.PutRaw(keys::kCfWatches, keys::Join(caller.org_id(), tag, user_id), "");
  core::Event ev;
  ev.type = core::EventType::kExpertiseUpdated;
  ev.org_id = caller.org_id();
  ev.user_id = user_id;
  ev.actor_id = caller.user.id;
  ev.at = impl_->clock.Now();
  m.AddEvent(ev);
  auto seq = impl_->store.Commit(std::move(m));
  if (!seq) return seq.take_error();
  return Written<routing::Expertise>{std::move(e), *seq};
}

Result<routing::Expertise> RoutingService::GetExpertise(const Caller& caller, const std::string& user_id) const {
  auto user = impl_->store.GetUser(caller.org_id(), user_id);
  if (!user) return user.take_error();
  auto raw = impl_->store.GetRaw(keys::kCfExpertise, keys::Join(caller.org_id(), user_id));
  if (!raw) return raw.take_error();
  if (!raw->has_value()) return Error::Make(ErrorCode::kNotFound, "this user has not declared any expertise");
  return DecodeExpertise(**raw);
}

Result<std::vector<TagExpert>> RoutingService::ExpertsForTag(const Caller& caller, const std::string& tag) const {
  std::vector<std::pair<std::string, int>> found;
  auto st = impl_->store.ScanRaw(keys::kCfTagExperts, keys::Join(caller.org_id(), tag) + "/", std::nullopt,
                                 [&](std::string_view user, std::string_view level) {
                                   found.emplace_back(std::string(user), std::atoi(std::string(level).c_str()));
                                   return found.size() < 1000;
                                 });
  if (!st) return st.take_error();
  auto open = impl_->Counters(caller.org_id(), "open_assignments/");
  auto now = impl_->clock.Now();
  std::vector<TagExpert> out;
  for (const auto& [user_id, level] : found) {
    auto user = impl_->store.GetUser(caller.org_id(), user_id);
    if (!user) continue;
    TagExpert x{std::move(user).value(), level, false, static_cast<int>(open["open_assignments/" + user_id])};
    if (auto e = GetExpertise(caller, user_id)) x.in_working_hours = routing::InWorkingHours(*e, now);
    out.push_back(std::move(x));
  }
  std::sort(out.begin(), out.end(), [](const TagExpert& a, const TagExpert& b) {
    return a.level != b.level ? a.level > b.level : a.user.id < b.user.id;
  });
  return out;
}

Result<std::vector<core::User>> RoutingService::WatchersOfTag(const Caller& caller, const std::string& tag) const {
  std::vector<core::User> out;
  std::vector<std::string> ids;
  auto st = impl_->store.ScanRaw(keys::kCfWatches, keys::Join(caller.org_id(), tag) + "/", std::nullopt,
                                 [&](std::string_view user, std::string_view) {
                                   ids.emplace_back(user);
                                   return ids.size() < 1000;
                                 });
  if (!st) return st.take_error();
  for (const auto& id : ids) {
    if (auto u = impl_->store.GetUser(caller.org_id(), id)) out.push_back(std::move(u).value());
  }
  return out;
}

Result<OrgRoutingSettings> RoutingService::GetSettings(const Caller& caller) const {
  return impl_->Settings(caller.org_id());
}

Result<Written<OrgRoutingSettings>> RoutingService::PutSettings(const Caller& caller, const OrgRoutingSettings& s) {
  if (caller.user.role != core::Role::kAdmin) {
    return Error::Make(ErrorCode::kForbidden, "only admins can change routing settings");
  }
  for (const auto* list : {&s.escalation_contacts, &s.triage_users}) {
    for (const auto& id : *list) {
      if (!impl_->store.GetUser(caller.org_id(), id)) {
        Error e = Error::Make(ErrorCode::kInvalidArgument, fmt::format("user {} does not exist", id));
        e.fields.push_back({list == &s.triage_users ? "#/triage_users" : "#/escalation_contacts", e.detail});
        return e;
      }
    }
  }
  std::lock_guard lock(impl_->mu);
  storage::Mutation m;
  m.PutRaw(keys::kCfRouting, keys::Join(caller.org_id(), kSettingsKey), EncodeSettings(s));
  auto seq = impl_->store.Commit(std::move(m));
  if (!seq) return seq.take_error();
  return Written<OrgRoutingSettings>{s, *seq};
}

Result<std::vector<Assignment>> RoutingService::MyAssignments(const Caller& caller) const {
  std::vector<std::string> ids;
  auto st = impl_->store.ScanRaw(keys::kCfUserAssignments, keys::Join(caller.org_id(), caller.user.id) + "/",
                                 std::nullopt, [&](std::string_view id, std::string_view) {
                                   ids.emplace_back(id);
                                   return ids.size() < 1000;
                                 });
  if (!st) return st.take_error();
  std::vector<Assignment> out;
  for (const auto& id : ids) {
    if (auto a = impl_->GetAssignment(caller.org_id(), id)) out.push_back(std::move(a).value());
  }
  std::sort(out.begin(), out.end(), [](const Assignment& a, const Assignment& b) {
    return a.due_at != b.due_at ? a.due_at < b.due_at : a.id < b.id;
  });
  return out;
}

Result<Written<Assignment>> RoutingService::Claim(const Caller& caller, const std::string& assignment_id) {
  std::lock_guard lock(impl_->mu);
  auto a = impl_->GetAssignment(caller.org_id(), assignment_id);
  if (!a) return a.take_error();
  if (a->user_id != caller.user.id) return Error::Make(ErrorCode::kForbidden, "this assignment is someone else's");
  if (a->status != AssignmentStatus::kOpen && a->status != AssignmentStatus::kClaimed) {
    return Error::Make(ErrorCode::kConflict, fmt::format("the assignment is already {}", ToString(a->status)));
  }
  auto now = impl_->clock.Now();
  auto s = impl_->Settings(caller.org_id());
  a->status = AssignmentStatus::kClaimed;
  a->claimed_until = core::FromUnixMillis(Ms(now) + s.policy.claim_window_seconds * 1000);
  storage::Mutation m;
  impl_->PutAssignment(m, *a);
  core::Event e;
  e.type = core::EventType::kAssignmentClaimed;
  e.org_id = caller.org_id();
  e.thread_id = a->thread_id;
  e.user_id = caller.user.id;
  e.actor_id = caller.user.id;
  e.at = now;
  m.AddEvent(e);
  auto seq = impl_->store.Commit(std::move(m));
  if (!seq) return seq.take_error();
  return Written<Assignment>{std::move(a).value(), *seq};
}

Result<Written<Assignment>> RoutingService::Decline(const Caller& caller, const std::string& assignment_id,
                                                    DeclineReason reason) {
  std::lock_guard lock(impl_->mu);
  auto a = impl_->GetAssignment(caller.org_id(), assignment_id);
  if (!a) return a.take_error();
  if (a->user_id != caller.user.id) return Error::Make(ErrorCode::kForbidden, "this assignment is someone else's");
  if (a->status != AssignmentStatus::kOpen && a->status != AssignmentStatus::kClaimed) {
    return Error::Make(ErrorCode::kConflict, fmt::format("the assignment is already {}", ToString(a->status)));
  }
  auto now = impl_->clock.Now();
  storage::Mutation m;
  auto t = impl_->store.GetThread(caller.org_id(), a->thread_id);
  a->decline_reason = std::string(ReasonName(reason));
  impl_->CloseAssignment(m, *a, AssignmentStatus::kDeclined, now);
  a->status = AssignmentStatus::kDeclined;
  a->closed_at = now;
  if (t) {
    if (reason == DeclineReason::kNotMyArea) {
      for (const auto& tag : t->tags) m.AddToCounter(caller.org_id(), "not_my_area/" + caller.user.id + "/" + tag, 1);
    }
    // Re-route at once: one replacement from the next-best experts not yet asked.
    auto rec = impl_->Record(caller.org_id(), t->id);
    if (rec && !rec->finished && t->status == core::ThreadStatus::kOpen) {
      impl_->RouteRound(m, *rec, *t, impl_->Settings(caller.org_id()), 1, "declined", {}, false, now);
      impl_->PutRecord(m, *rec);
    }
  }
  core::Event e;
  e.type = core::EventType::kAssignmentDeclined;
  e.org_id = caller.org_id();
  e.thread_id = a->thread_id;
  e.user_id = caller.user.id;
  e.actor_id = caller.user.id;
  e.at = now;
  m.AddEvent(e);
  auto seq = impl_->store.Commit(std::move(m));
  if (!seq) return seq.take_error();
  return Written<Assignment>{std::move(a).value(), *seq};
}

Result<std::pair<RoutingRecord, std::vector<Assignment>>> RoutingService::Routing(const Caller& caller,
                                                                                  const std::string& thread_id) const {
  auto t = impl_->store.GetThread(caller.org_id(), thread_id);
  if (!t) return t.take_error();
  auto rec = impl_->Record(caller.org_id(), thread_id);
  if (!rec) rec = RoutingRecord{caller.org_id(), thread_id, 0, false, false, t->tags, {}, {}};
  auto assignments = impl_->ThreadAssignments(caller.org_id(), thread_id);
  std::sort(assignments.begin(), assignments.end(),
            [](const Assignment& a, const Assignment& b) { return a.id < b.id; });
  return std::make_pair(std::move(*rec), std::move(assignments));
}

}  // namespace streetwise::service
