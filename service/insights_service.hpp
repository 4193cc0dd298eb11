// Insights for product and sales leadership: summary, gaps and expert figures (docs/insights.md).
//
// A worker tails the change log from a position kept in meta ("insights_position") and keeps
// rollups in the `insights` column family: per thread, the figures it contributes (insights/
// contribution.hpp) are recomputed from the stored thread on every change and only the difference
// is applied, in one relaxed batch together with the new position. After a crash the batch is
// either wholly there or re-derived from the change log, so figures converge. Reads sum a few
// thousand small rollups instead of scanning threads.
//
// Topics and trending terms come from the search index (indexer/), not from here.
#pragma once

#include <chrono>
#include <functional>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/model.hpp"
#include "service/account_service.hpp"
#include "storage/store.hpp"

namespace streetwise::service {

// Whole UTC days: from the day containing `from` to the day containing `to`, both included.
struct InsightsPeriod {
  core::TimePoint from;
  core::TimePoint to;
};

struct LatencyFigures {
  std::int64_t count = 0;  // observations
  std::optional<std::int64_t> p50_seconds;
  std::optional<std::int64_t> p90_seconds;
};

// Figures of the threads created in the period, for one slice (all, a tag or a region).
struct SliceFigures {
  std::string name;
  std::int64_t threads = 0;
  std::int64_t unanswered = 0;  // status open: no answer yet
  std::int64_t answered = 0;    // at least one answer (answered or resolved, or closed after an answer)
  LatencyFigures first_answer;
  LatencyFigures accepted;
  std::int64_t answered_within_sla = 0;
  std::optional<double> within_sla_share;  // answered_within_sla / answered
  std::int64_t escalations = 0;
};

struct UnansweredThread {
  std::string id;
  std::string title;
  core::ThreadKind kind = core::ThreadKind::kQuestion;
  std::vector<std::string> tags;
  std::optional<std::string> region;
  core::TimePoint created_at;
};

struct SummaryQuery {
  InsightsPeriod period;
  std::optional<std::string> tag;     // normalised
  std::optional<std::string> region;
  std::int64_t sla_seconds = 24 * 3600;
  std::size_t oldest_limit = 10;
};

struct InsightsSummary {
  std::map<core::ThreadKind, std::map<core::ThreadStatus, std::int64_t>> by_kind;
  SliceFigures overall;
  std::vector<SliceFigures> by_tag;     // most threads first
  std::vector<SliceFigures> by_region;  // most threads first
  std::vector<UnansweredThread> oldest_unanswered;
};

struct ExpertFigures {
  core::User user;
  std::int64_t assignments = 0;
  std::int64_t declined = 0;
  std::int64_t answered = 0;          // answers written in the period
  std::int64_t accepted_answers = 0;  // of their answers, accepted in the period
  std::optional<double> accepted_rate;
  LatencyFigures answer_time;         // from assignment (or, unassigned, from the question) to answer
  std::int64_t open_load = 0;         // open assignments now
};

struct ExpertsQuery {
  InsightsPeriod period;
  std::optional<std::string> tag;
};

struct TermCount {
  std::string term;
  std::int64_t count = 0;
};

struct TagGap {
  std::string tag;
  std::int64_t threads = 0;
  std::int64_t unanswered = 0;
  std::int64_t experts = 0;  // users who declared expertise in the tag
  LatencyFigures first_answer;
};

struct TagDeflection {
  std::string tag;
  std::int64_t suggested = 0;  // drafts with this tag that were shown similar threads
  std::int64_t deflected = 0;  // of those, resolved by a suggested thread (no new question)
  std::optional<double> rate;
};

struct InsightsGaps {
  std::int64_t searches = 0;
  std::int64_t searches_empty = 0;
  std::vector<TermCount> missed_terms;  // words of searches that found nothing, most frequent first
  std::vector<TermCount> missed_tags;   // tag filters of searches that found nothing
  std::vector<TagGap> uncovered_tags;   // tags with threads in the period and no expert
  std::vector<TagGap> slow_tags;        // tags whose median first answer exceeds the SLA
  std::vector<TagDeflection> deflection;
};

struct GapsQuery {
  InsightsPeriod period;
  std::int64_t sla_seconds = 24 * 3600;
  std::size_t limit = 20;
};

// The weekly digest for subscribed admins and analysts (in-app and e-mail through notify/).
struct DigestTopic {
  std::string label;
  std::int64_t threads = 0;
};
// Recurring topics of an org's threads created in [from, to] (from the search index; optional).
using DigestTopicsProvider =
    std::function<std::vector<DigestTopic>(const std::string& org_id, core::TimePoint from, core::TimePoint to)>;

struct InsightsDigest {
  InsightsPeriod period;  // the 7 days before it was made
  std::string title;
  std::string text;       // the plain-text body
  InsightsSummary summary;
  std::vector<DigestTopic> topics;
};

struct DigestSubscription {
  bool subscribed = false;
  std::optional<std::string> last_sent_week;  // YYYY-MM-DD of the Monday (UTC) of the last digest sent
};

class InsightsService {
 public:
  InsightsService(storage::Store& store, const core::Clock& clock);
  ~InsightsService();
  InsightsService(const InsightsService&) = delete;
  InsightsService& operator=(const InsightsService&) = delete;

  // kForbidden unless the caller may read insights (admins, analysts).
  core::Result<InsightsSummary> Summary(const Caller& caller, const SummaryQuery& q) const;
  core::Result<std::vector<ExpertFigures>> Experts(const Caller& caller, const ExpertsQuery& q) const;
  core::Result<InsightsGaps> Gaps(const Caller& caller, const GapsQuery& q) const;

  // The digest as it would be sent now (the last 7 days).
  core::Result<InsightsDigest> PreviewDigest(const Caller& caller) const;
  core::Result<DigestSubscription> GetDigestSubscription(const Caller& caller) const;
  core::Result<Written<DigestSubscription>> PutDigestSubscription(const Caller& caller, bool subscribed);
  // Sends the digest now to every subscriber of the caller's org (admins only); returns how many.
  // Does not change the weekly schedule.
  core::Result<Written<std::size_t>> SendDigestNow(const Caller& caller);
  // Weekly: at or after Monday 08:00 UTC, every subscriber who has not had this week's digest gets
  // it (once per week, also across restarts). Checked by the worker about once a minute.
  std::size_t RunWeeklyDigests();
  void SetDigestTopicsProvider(DigestTopicsProvider provider);

  // Waits (bounded) until the rollups include change-log seq `seq`; false on timeout.
  bool WaitForSeq(std::uint64_t seq, std::chrono::milliseconds timeout) const;

  void Start();
  void Stop();
  std::uint64_t Position() const;

 private:
  core::Result<InsightsSummary> SummaryOf(const std::string& org_id, const SummaryQuery& q) const;
  core::Result<InsightsDigest> DigestOf(const std::string& org_id) const;
  core::Result<Written<std::size_t>> Send(const std::string& org_id, const std::vector<core::User>& to,
                                          const std::optional<std::string>& week, const std::optional<std::string>& actor);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// kForbidden unless `caller` may read insights.
core::Status CheckInsightsReader(const Caller& caller);

}  // namespace streetwise::service
