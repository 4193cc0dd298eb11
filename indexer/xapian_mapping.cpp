#include "indexer/xapian_mapping.hpp"

#include <boost/json.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <unordered_map>

#include "core/validation.hpp"

namespace streetwise::indexer::mapping {
namespace {

// English stopwords for the query side (they are still indexed, so phrases keep working).
constexpr const char* kStopwords[] = {
    "a",    "about", "an",   "and",  "are",  "as",    "at",   "be",    "but",   "by",   "can",  "do",
    "does", "for",   "from", "has",  "have", "how",   "i",    "if",    "in",    "is",   "it",   "its",
    "me",   "my",    "of",   "on",   "or",   "our",   "so",   "than",  "that",  "the",  "their", "them",
    "then", "there", "these", "they", "this", "to",   "was",  "we",    "were",  "what", "when", "where",
    "which", "who",  "why",  "will", "with", "would", "you",  "your",
};

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// tag:<x> in a query: normalised exactly as tags are at write time, so "tag:Oracle DB" style
// input finds "oracle-db". An invalid tag matches nothing (instead of erroring the whole query).
class TagFieldProcessor : public Xapian::FieldProcessor {
 public:
  Xapian::Query operator()(const std::string& str) override {
    auto tag = core::NormaliseTag(str);
    if (!tag) return Xapian::Query::MatchNothing;
    return Xapian::Query(std::string(kPrefixTag) + *tag);
  }
};

// A boolean field whose value is matched case-insensitively (kind, status, author ids as given).
class LowerFieldProcessor : public Xapian::FieldProcessor {
 public:
  explicit LowerFieldProcessor(std::string prefix) : prefix_(std::move(prefix)) {}
  Xapian::Query operator()(const std::string& str) override { return Xapian::Query(prefix_ + Lower(str)); }

 private:
  std::string prefix_;
};

class ExactFieldProcessor : public Xapian::FieldProcessor {
 public:
  explicit ExactFieldProcessor(std::string prefix) : prefix_(std::move(prefix)) {}
  Xapian::Query operator()(const std::string& str) override { return Xapian::Query(prefix_ + str); }

 private:
  std::string prefix_;
};

Xapian::Query And(Xapian::Query a, const Xapian::Query& b) {
  if (a.empty()) return b;
  return Xapian::Query(Xapian::Query::OP_FILTER, a, b);
}

// Plain words only: every character that could be syntax becomes a space.
std::string PlainWords(const std::string& q) {
  std::string out = q;
  for (auto& c : out) {
    auto uc = static_cast<unsigned char>(c);
    if (uc < 0x80 && !std::isalnum(uc)) c = ' ';
  }
  return out;
}

// "-word -other": only exclusions, which the parser rejects; means everything except those words.
Xapian::Query PureExclusion(const std::string& q, Xapian::QueryParser& qp) {
  std::vector<Xapian::Query> excluded;
  std::size_t i = 0;
  while (i < q.size()) {
    while (i < q.size() && std::isspace(static_cast<unsigned char>(q[i]))) ++i;
    if (i == q.size()) break;
    if (q[i] != '-') return Xapian::Query();
    std::size_t end = i;
    while (end < q.size() && !std::isspace(static_cast<unsigned char>(q[end]))) ++end;
    std::string word = PlainWords(q.substr(i + 1, end - i - 1));
    if (!core::Trim(word).empty()) excluded.push_back(qp.parse_query(word, 0));
    i = end;
  }
  if (excluded.empty()) return Xapian::Query();
  return Xapian::Query(Xapian::Query::OP_AND_NOT, MatchAll(),
                       Xapian::Query(Xapian::Query::OP_OR, excluded.begin(), excluded.end()));
}

}  // namespace

std::string FilterValue(const std::string& raw) { return Lower(std::string(core::Trim(raw))); }
std::string OrgTerm(const std::string& org_id) { return kPrefixOrg + org_id; }
std::string IdTerm(const std::string& thread_id) { return kPrefixId + thread_id; }
std::string KindTerm(std::string_view kind) { return kPrefixKind + std::string(kind); }

namespace {

constexpr std::int64_t kDayMs = 86'400'000;

std::int64_t DayOf(std::int64_t ms) { return ms >= 0 ? ms / kDayMs : -((-ms + kDayMs - 1) / kDayMs); }

std::chrono::year_month_day DateOf(std::int64_t day) {
  return std::chrono::year_month_day{std::chrono::sys_days{std::chrono::days{day}}};
}

std::string DayTermOfDay(std::int64_t day) {
  auto d = DateOf(day);
  return fmt::format("{}{:04}{:02}{:02}", kPrefixDay, static_cast<int>(d.year()), static_cast<unsigned>(d.month()),
                     static_cast<unsigned>(d.day()));
}

std::string MonthTermOfDay(std::int64_t day) {
  auto d = DateOf(day);
  return fmt::format("{}{:04}{:02}", kPrefixMonth, static_cast<int>(d.year()), static_cast<unsigned>(d.month()));
}

Xapian::Query CreatedValueRange(std::int64_t from_ms, std::int64_t to_ms) {
  return Xapian::Query(Xapian::Query::OP_VALUE_RANGE, kSlotCreated, Xapian::sortable_serialise(static_cast<double>(from_ms)),
                       Xapian::sortable_serialise(static_cast<double>(to_ms)));
}

}  // namespace

std::string DayTerm(std::int64_t ms) { return DayTermOfDay(DayOf(ms)); }
std::string MonthTerm(std::int64_t ms) { return MonthTermOfDay(DayOf(ms)); }

Xapian::Query CreatedBetween(std::int64_t from_ms, std::int64_t to_ms) {
  // Not Query::MatchNothing: that is the empty query, which as a filter operand means "no filter".
  if (from_ms > to_ms) return Xapian::Query(kPrefixDay);  // a term no document has
  std::int64_t first = DayOf(from_ms), last = DayOf(to_ms);
  constexpr std::int64_t kMaxTermDays = 3 * 366;
  if (last - first > kMaxTermDays) return CreatedValueRange(from_ms, to_ms);
  std::vector<Xapian::Query> parts;
  // A partly covered day: its day term narrowed by the value range.
  auto partial = [&](std::int64_t day) {
    parts.emplace_back(Xapian::Query::OP_FILTER, Xapian::Query(DayTermOfDay(day)),
                       CreatedValueRange(std::max(from_ms, day * kDayMs), std::min(to_ms, (day + 1) * kDayMs - 1)));
  };
  std::int64_t whole_first = first, whole_last = last;
  if (from_ms != first * kDayMs) {
    partial(first);
    ++whole_first;
  }
  if (to_ms != (last + 1) * kDayMs - 1 && last >= whole_first) {
    partial(last);
    --whole_last;
  }
  for (std::int64_t day = whole_first; day <= whole_last;) {
    auto date = DateOf(day);
    std::int64_t month_first = std::chrono::sys_days{date.year() / date.month() / 1}.time_since_epoch().count();
    std::int64_t month_last =
        std::chrono::sys_days{date.year() / date.month() / std::chrono::last}.time_since_epoch().count();
    if (day == month_first && month_last <= whole_last) {
      parts.emplace_back(MonthTermOfDay(day));
      day = month_last + 1;
    } else {
      parts.emplace_back(DayTermOfDay(day));
      ++day;
    }
  }
  return Xapian::Query(Xapian::Query::OP_OR, parts.begin(), parts.end());
}

bool IsWordTerm(const std::string& term) {
  // Prefixes are upper-case ASCII; a word starts with a lower-case letter, a digit or a UTF-8 byte.
  auto word_start = [](unsigned char c) { return std::islower(c) || std::isdigit(c) || c >= 0x80; };
  if (term.empty()) return false;
  if (term[0] == 'Z') {  // the stem of an unprefixed word ("ZS..." would be a title stem)
    return term.size() > 3 && word_start(static_cast<unsigned char>(term[1])) && !Stopwords()(term.substr(1));
  }
  return word_start(static_cast<unsigned char>(term[0])) && term.size() > 2 && !Stopwords()(term);
}

const Xapian::Stopper& Stopwords() {
  static const Xapian::SimpleStopper stopper(std::begin(kStopwords), std::end(kStopwords));
  return stopper;
}

namespace {

void PutLength(std::string& out, std::size_t n) {
  // Base-128 varint.
  while (n >= 0x80) {
    out.push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  out.push_back(static_cast<char>(n));
}

bool GetString(std::string_view& in, std::string& out) {
  std::size_t n = 0;
  for (int shift = 0;; shift += 7) {
    if (in.empty() || shift > 28) return false;
    auto byte = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    n |= static_cast<std::size_t>(byte & 0x7f) << shift;
    if (byte < 0x80) break;
  }
  if (n > in.size()) return false;
  out.assign(in.substr(0, n));
  in.remove_prefix(n);
  return true;
}

}  // namespace

std::string EncodeFacets(const FacetValues& f) {
  std::string out;
  for (const std::string* v : {&f.kind, &f.status, &f.region, &f.product}) {
    PutLength(out, v->size());
    out += *v;
  }
  for (const auto& tag : f.tags) {
    PutLength(out, tag.size());
    out += tag;
  }
  return out;
}

bool DecodeFacets(std::string_view in, FacetValues& out) {
  out.tags.clear();
  for (std::string* v : {&out.kind, &out.status, &out.region, &out.product}) {
    if (!GetString(in, *v)) return false;
  }
  while (!in.empty()) {
    if (!GetString(in, out.tags.emplace_back())) return false;
  }
  return true;
}

std::vector<std::string> Words(const std::string& text) {
  Xapian::TermGenerator tg;  // no stemmer: the unstemmed words only, each with its position
  Xapian::Document scratch;
  tg.set_document(scratch);
  tg.index_text(text);
  std::vector<std::pair<Xapian::termpos, std::string>> positioned;
  for (auto it = scratch.termlist_begin(); it != scratch.termlist_end(); ++it) {
    for (auto p = it.positionlist_begin(); p != it.positionlist_end(); ++p) positioned.emplace_back(*p, *it);
  }
  std::sort(positioned.begin(), positioned.end());
  std::vector<std::string> words;
  words.reserve(positioned.size());
  for (auto& [pos, word] : positioned) words.push_back(std::move(word));
  return words;
}

std::string TitlePairTerm(const std::string& first, const std::string& second) {
  return kPrefixTitlePair + first + " " + second;
}

std::string ThreadText(const core::Thread& t) {
  std::string text = t.body;
  for (const auto& a : t.answers) {
    text.append("\n\n");
    text.append(a.body);
  }
  for (const auto& c : t.comments) {
    text.append("\n\n");
    text.append(c.body);
  }
  return text;
}

Xapian::Document MapThread(const core::Thread& t, Xapian::TermGenerator& tg) {
  Xapian::Document doc;
  tg.set_document(doc);
  // Title: positional unprefixed text weighted x3 (so it ranks above the body) and the S-prefixed
  // copy that title: queries and the title-phrase boost use.
  tg.index_text(t.title, 3);
  tg.increase_termpos();
  tg.index_text(t.title, 1, kPrefixTitle);
  tg.increase_termpos();
  auto title_words = Words(t.title);
  for (std::size_t i = 1; i < title_words.size(); ++i) {
    doc.add_boolean_term(TitlePairTerm(title_words[i - 1], title_words[i]));
  }
  std::string text = ThreadText(t);
  tg.index_text(text);
  for (const auto& tag : t.tags) {
    doc.add_boolean_term(kPrefixTag + tag);
    tg.increase_termpos();
    tg.index_text(tag);  // a tag's words also match free text
  }
  doc.add_boolean_term(OrgTerm(t.org_id));
  doc.add_boolean_term(IdTerm(t.id));
  doc.add_boolean_term(DayTerm(core::ToUnixMillis(t.created_at)));
  doc.add_boolean_term(MonthTerm(core::ToUnixMillis(t.created_at)));
  doc.add_boolean_term(std::string(kPrefixKind) + std::string(core::ToString(t.kind)));
  doc.add_boolean_term(std::string(kPrefixStatus) + std::string(core::ToString(t.status)));
  doc.add_boolean_term(kPrefixAuthor + t.author_id);
  if (t.deal.account) doc.add_boolean_term(kPrefixAccount + FilterValue(*t.deal.account));
  if (t.deal.region) doc.add_boolean_term(kPrefixRegion + FilterValue(*t.deal.region));
  if (t.deal.product) doc.add_boolean_term(kPrefixProduct + FilterValue(*t.deal.product));

  std::int64_t votes = 0;
  for (const auto& a : t.answers) votes += a.score;
  doc.add_value(kSlotCreated, Xapian::sortable_serialise(static_cast<double>(core::ToUnixMillis(t.created_at))));
  doc.add_value(kSlotUpdated, Xapian::sortable_serialise(static_cast<double>(core::ToUnixMillis(t.updated_at))));
  doc.add_value(kSlotVotes, Xapian::sortable_serialise(static_cast<double>(votes)));
  doc.add_value(kSlotAnswerCount, Xapian::sortable_serialise(static_cast<double>(t.answers.size())));
  if (t.deal.account) doc.add_value(kSlotAccount, FilterValue(*t.deal.account));
  std::string joined;
  for (const auto& tag : t.tags) {
    if (!joined.empty()) joined.push_back('\n');
    joined += tag;
  }
  doc.add_value(kSlotTags, joined);
  FacetValues facets{std::string(core::ToString(t.kind)), std::string(core::ToString(t.status)),
                     t.deal.region ? FilterValue(*t.deal.region) : std::string(),
                     t.deal.product ? FilterValue(*t.deal.product) : std::string(), t.tags};
  doc.add_value(kSlotFacets, EncodeFacets(facets));

  boost::json::array tags;
  for (const auto& tag : t.tags) tags.emplace_back(tag);
  boost::json::object data{{"id", t.id},
                           {"title", t.title},
                           {"tags", std::move(tags)},
                           {"kind", core::ToString(t.kind)},
                           {"status", core::ToString(t.status)},
                           {"answer_count", static_cast<std::int64_t>(t.answers.size())},
                           {"accepted", t.accepted_answer_id.has_value()},
                           {"created_ms", core::ToUnixMillis(t.created_at)},
                           {"text", text},
                           {"body_bytes", static_cast<std::int64_t>(t.body.size())}};  // text[0, body_bytes) is the body
  doc.set_data(boost::json::serialize(data));
  return doc;
}

void AddSpellings(Xapian::WritableDatabase& db) {
  // MapThread indexes each title word three times unprefixed (wdf 3) and once under kPrefixTitle
  // (wdf 1); every other unprefixed occurrence has wdf 1. FLAG_SPELLING counts occurrences, so a
  // word's spelling frequency is its collection frequency minus twice its title frequency.
  // Unprefixed words sort before 'A' (digits) or after 'Z' (lower-case letters, UTF-8); every
  // prefix is upper-case ASCII, so the prefixed terms are skipped in one jump.
  std::vector<std::pair<std::string, Xapian::termcount>> words;
  for (auto it = db.allterms_begin(); it != db.allterms_end(); ++it) {
    const std::string& term = *it;
    if (term[0] >= 'A' && term[0] <= 'Z') {
      it.skip_to(std::string(1, 'Z' + 1));
      if (it == db.allterms_end()) break;
    }
    const std::string& word = *it;
    auto occurrences = static_cast<std::int64_t>(db.get_collection_freq(word)) -
                       2 * static_cast<std::int64_t>(db.get_collection_freq(kPrefixTitle + word));
    if (occurrences > 0) words.emplace_back(word, static_cast<Xapian::termcount>(occurrences));
  }
  for (const auto& [word, n] : words) db.add_spelling(word, n);
}

void ConfigureParser(Xapian::QueryParser& qp) {
  qp.set_stemmer(Xapian::Stem("english"));
  qp.set_stemming_strategy(Xapian::QueryParser::STEM_SOME);
  qp.set_stopper(&Stopwords());
  qp.set_default_op(Xapian::Query::OP_AND);
  // Expansion happens over the shared index before the org filter applies, so the cap is generous;
  // docs/search.md explains the residual limitation.
  qp.set_max_expansion(2000, Xapian::Query::WILDCARD_LIMIT_MOST_FREQUENT);
  qp.add_prefix("title", kPrefixTitle);
  qp.add_boolean_prefix("tag", (new TagFieldProcessor)->release());
  qp.add_boolean_prefix("author", (new ExactFieldProcessor(kPrefixAuthor))->release());
  qp.add_boolean_prefix("kind", (new LowerFieldProcessor(kPrefixKind))->release());
  qp.add_boolean_prefix("status", (new LowerFieldProcessor(kPrefixStatus))->release());
}

Xapian::Query BuildUserQuery(const SearchRequest& r, Xapian::QueryParser& qp, bool& fell_back) {
  fell_back = false;
  Xapian::Query text;
  std::string q(core::Trim(r.q));
  if (!q.empty()) {
    constexpr unsigned kFlags = Xapian::QueryParser::FLAG_PHRASE | Xapian::QueryParser::FLAG_BOOLEAN |
                                Xapian::QueryParser::FLAG_LOVEHATE | Xapian::QueryParser::FLAG_WILDCARD |
                                Xapian::QueryParser::FLAG_PURE_NOT | Xapian::QueryParser::FLAG_SPELLING_CORRECTION;
    // Only exclusions ("-word"): the parser would treat them as plain words; mean "all but these".
    text = PureExclusion(q, qp);
    if (text.empty()) {
      try {
        text = qp.parse_query(q, kFlags);
      } catch (const Xapian::QueryParserError&) {
        fell_back = true;
        text = qp.parse_query(PlainWords(q), 0);
      }
    }
    // An exact phrase in the title outranks scattered matches: boost documents whose title holds
    // every adjacent pair of the query's words (for two words, exactly the phrase). The pairs are
    // boolean terms, so finding those documents reads no positions: a positional phrase check on
    // every document with both words in its title cost up to 0.7 s per query at 1M threads
    // (docs/benchmarks.md). The boost's weight is that of the title words.
    auto words = Words(PlainWords(q));
    if (words.size() >= 2 && words.size() <= 8) {
      std::vector<Xapian::Query> title_words, pairs;
      for (std::size_t i = 0; i < words.size(); ++i) {
        title_words.emplace_back(kPrefixTitle + words[i]);
        if (i > 0) pairs.emplace_back(TitlePairTerm(words[i - 1], words[i]));
      }
      Xapian::Query in_title(Xapian::Query::OP_FILTER,
                             Xapian::Query(Xapian::Query::OP_AND, title_words.begin(), title_words.end()),
                             Xapian::Query(Xapian::Query::OP_AND, pairs.begin(), pairs.end()));
      text = Xapian::Query(Xapian::Query::OP_AND_MAYBE, text,
                           Xapian::Query(Xapian::Query::OP_SCALE_WEIGHT, in_title, 2.0));
    }
  }
  Xapian::Query filters;
  for (const auto& tag : r.tags) filters = And(filters, Xapian::Query(kPrefixTag + tag));
  if (r.kind) filters = And(filters, Xapian::Query(kPrefixKind + *r.kind));
  if (r.status) filters = And(filters, Xapian::Query(kPrefixStatus + *r.status));
  if (r.author_id) filters = And(filters, Xapian::Query(kPrefixAuthor + *r.author_id));
  if (r.account) filters = And(filters, Xapian::Query(kPrefixAccount + FilterValue(*r.account)));
  if (r.region) filters = And(filters, Xapian::Query(kPrefixRegion + FilterValue(*r.region)));
  if (r.product) filters = And(filters, Xapian::Query(kPrefixProduct + FilterValue(*r.product)));
  if (r.from || r.to) {
    // Open ends: far enough to make the period a plain value range (more than three years).
    constexpr std::int64_t kFar = std::int64_t{1} << 52;
    filters = And(filters, CreatedBetween(r.from ? core::ToUnixMillis(*r.from) : -kFar,
                                          r.to ? core::ToUnixMillis(*r.to) : kFar));
  }
  if (text.empty()) return filters.empty() ? MatchAll() : Xapian::Query(Xapian::Query::OP_SCALE_WEIGHT, filters, 0);
  if (filters.empty()) return text;
  return Xapian::Query(Xapian::Query::OP_FILTER, text, filters);
}

namespace {

class MemoStem : public Xapian::StemImplementation {
 public:
  explicit MemoStem(std::size_t max_words) : max_words_(max_words) {}
  std::string operator()(const std::string& word) override {
    if (auto it = memo_.find(word); it != memo_.end()) return it->second;
    std::string stem = english_(word);
    if (memo_.size() >= max_words_) memo_.clear();  // bounded: a corpus of unusual words starts over
    memo_.emplace(word, stem);
    return stem;
  }
  std::string get_description() const override { return "MemoStem(english)"; }

 private:
  std::size_t max_words_;
  Xapian::Stem english_{"english"};
  std::unordered_map<std::string, std::string> memo_;
};

}  // namespace

Xapian::Stem MakeIndexingStemmer() { return Xapian::Stem(new MemoStem(200'000)); }

const Xapian::Stem& ThreadSnippetStemmer() {
  thread_local const Xapian::Stem stem(new MemoStem(20'000));
  return stem;
}

std::unique_ptr<Xapian::Weight> MakeWeight() {
  return std::make_unique<Xapian::BM25Weight>(0.9, 0, 1, 0.5, 0.5);
}

Xapian::Query RestrictToOrg(const Xapian::Query& user, const std::string& org_id) {
  return Xapian::Query(Xapian::Query::OP_FILTER, user, Xapian::Query(OrgTerm(org_id)));
}

Xapian::Query RestrictToOrg(const Xapian::Query& user, const std::string& org_id, const Xapian::Database& db) {
  if (db.get_doccount() > 0 && db.get_termfreq(OrgTerm(org_id)) == db.get_doccount()) return user;
  return RestrictToOrg(user, org_id);
}

}  // namespace streetwise::indexer::mapping
