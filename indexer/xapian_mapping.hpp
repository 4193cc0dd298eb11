// Internal to indexer/: how threads become Xapian documents and requests become Xapian queries.
// Exposed in a header only so tests/unit/indexer can check the mapping directly.
#pragma once

#include <xapian.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/model.hpp"
#include "indexer/search_types.hpp"

namespace streetwise::indexer::mapping {

// Term prefixes (Xapian conventions: Q unique id, K tags, S title, A author, X... ours).
inline constexpr const char* kPrefixId = "Q";
inline constexpr const char* kPrefixTag = "K";
inline constexpr const char* kPrefixTitle = "S";
inline constexpr const char* kPrefixAuthor = "A";
inline constexpr const char* kPrefixOrg = "XO";
inline constexpr const char* kPrefixKind = "XK";
inline constexpr const char* kPrefixStatus = "XS";
inline constexpr const char* kPrefixAccount = "XA";
inline constexpr const char* kPrefixRegion = "XR";
inline constexpr const char* kPrefixProduct = "XP";
// Adjacent title words "XT<word> <word>" (boolean): lets the title-phrase boost find its documents
// without reading positions (see BuildUserQuery).
inline constexpr const char* kPrefixTitlePair = "XT";
// The UTC day and month a thread was created, "XD<yyyymmdd>" and "XM<yyyymm>" (boolean): a period
// filter (CreatedBetween) is then a few posting lists the matcher skips through, instead of a value
// read per candidate document.
inline constexpr const char* kPrefixDay = "XD";
inline constexpr const char* kPrefixMonth = "XM";

// Value slots.
enum Slot : Xapian::valueno {
  kSlotCreated = 0,      // sortable_serialise(ms since epoch)
  kSlotVotes = 1,        // sortable_serialise(sum of answer scores)
  kSlotAnswerCount = 2,  // sortable_serialise(number of answers)
  kSlotKind = 3,     // not written since mapping "3" (kSlotFacets holds it); numbers are never reused
  kSlotStatus = 4,   // not written since mapping "3"
  kSlotRegion = 5,   // not written since mapping "3"
  kSlotProduct = 6,  // not written since mapping "3"
  kSlotTags = 7,  // tags joined by '\n'
  kSlotUpdated = 8,
  kSlotAccount = 9,  // FilterValue(deal.account): distinct accounts per topic (indexer/topics.cpp)
  kSlotFacets = 10,  // EncodeFacets(kind, status, region, product, tags): every facet in one read
};

// The document layout above (terms, prefixes, slots, data) has a version, stored in each generation's
// metadata. SearchIndex::Open rebuilds a generation whose version differs, so bump it whenever
// MapThread changes what an existing document would hold. "1" (no key) had no account slot and no
// body_bytes in the document data; "2" had no title pair terms (kPrefixTitlePair) and no kSlotFacets,
// and wrote kind, status, region and product in slots of their own; "3" had no day and month terms.
inline constexpr const char* kMappingVersionKey = "mapping_version";
inline constexpr const char* kMappingVersion = "4";

// Lower-cases and trims a free-text filter value (account, region, product) for a boolean term.
std::string FilterValue(const std::string& raw);

std::string OrgTerm(const std::string& org_id);
std::string KindTerm(std::string_view kind);
std::string IdTerm(const std::string& thread_id);

// The facet values of a thread in one value (kSlotFacets), so a facet count reads one value per
// document instead of five (each value slot is a separate B-tree lookup). Length-prefixed, so any
// byte may occur in a value. DecodeFacets returns false for malformed input.
struct FacetValues {
  std::string kind, status, region, product;
  std::vector<std::string> tags;
};
std::string EncodeFacets(const FacetValues& f);
bool DecodeFacets(std::string_view encoded, FacetValues& out);

// The words of `text` in order, lower-cased and unstemmed, as Xapian's TermGenerator splits them
// (the positional title terms are these words under kPrefixTitle).
std::vector<std::string> Words(const std::string& text);
std::string TitlePairTerm(const std::string& first, const std::string& second);

// The searchable text of a thread besides its title: body, answers and comments.
std::string ThreadText(const core::Thread& t);

// Builds the document for `t`. `tg` is configured by the caller (stemmer, database for spelling).
Xapian::Document MapThread(const core::Thread& t, Xapian::TermGenerator& tg);

// Adds every word of `db` to its spelling dictionary with the frequency that indexing its documents
// with MapThread and TermGenerator::FLAG_SPELLING would have given it (one per occurrence in the
// unprefixed text), from the index statistics. For a database built without FLAG_SPELLING (a
// rebuild): one pass over the words instead of a dictionary update per word while indexing.
// Throws Xapian::Error.
void AddSpellings(Xapian::WritableDatabase& db);

// The relevance weighting of every ranked query (search, similar threads, topics): BM25 with k1 0.9,
// below the default 1.2, so term frequency saturates sooner and one word repeated many times cannot
// dominate a thread's score.
std::unique_ptr<Xapian::Weight> MakeWeight();

// The English stemmer for indexing: Snowball's, with a memo of the words it has stemmed (a sales
// corpus repeats a small vocabulary; the memo saved ~14 us of ~60 us of tokenising per thread).
// One per TermGenerator: not thread-safe.
Xapian::Stem MakeIndexingStemmer();

// The English stemmer for snippets on the calling thread: the same memo, bounded to fewer words,
// one per thread (never share it with another thread). A page of 20 snippets stems every word of 20
// texts; the memo took that from ~0.43 to ~0.25 ms at 1M threads (docs/benchmarks.md).
const Xapian::Stem& ThreadSnippetStemmer();

// A QueryParser configured with our stemmer, stopwords and field prefixes.
void ConfigureParser(Xapian::QueryParser& qp);
const Xapian::Stopper& Stopwords();

// Every document: a fresh Query(""), never a copy of the shared static Xapian::Query::MatchAll,
// whose reference count is not atomic (Xapian's query.h), while searches build queries on several
// threads at once.
inline Xapian::Query MatchAll() { return Xapian::Query(std::string()); }

// The user part of a search (text + filters), NOT including the org filter. Sets `fell_back` if
// the text had a syntax error and was parsed as plain words instead.
Xapian::Query BuildUserQuery(const SearchRequest& r, Xapian::QueryParser& qp, bool& fell_back);

// Threads created in [from_ms, to_ms] (ms since the epoch, both inclusive), for use as a filter:
// the month terms of whole months, the day terms of the other whole days, and a value range on
// kSlotCreated only within a partly covered first or last day. Periods longer than three years are
// a plain value range (they hold most threads anyway). Matches nothing if from_ms > to_ms.
Xapian::Query CreatedBetween(std::int64_t from_ms, std::int64_t to_ms);
std::string DayTerm(std::int64_t ms);    // kPrefixDay + the UTC date of `ms`
std::string MonthTerm(std::int64_t ms);  // kPrefixMonth + the UTC year and month of `ms`

// Free-text word terms: unprefixed lower-case words and their 'Z' stems, longer than two letters
// and not stopwords. Filter terms (boolean, upper-case prefixes) are never words.
bool IsWordTerm(const std::string& term);

// An ExpandDecider keeping word terms only (IsWordTerm), so expand sets never offer filter terms
// such as org or author ids.
class WordTermsOnly : public Xapian::ExpandDecider {
 public:
  bool operator()(const std::string& term) const override { return IsWordTerm(term); }
};

// Wraps `user` so only documents of `org_id` can match: a structural OP_FILTER on the org's
// boolean term, never text concatenation.
Xapian::Query RestrictToOrg(const Xapian::Query& user, const std::string& org_id);
// The same for a query run on `db`, without the filter when every document of `db` belongs to
// `org_id` (its term's frequency is the document count, read from the same reader, so the filter
// would pass every document). An index holding one organisation then matches as an index of its
// own would: the filter's check per candidate cost ~1/3 of a common word's matching at 1M threads.
Xapian::Query RestrictToOrg(const Xapian::Query& user, const std::string& org_id, const Xapian::Database& db);

}  // namespace streetwise::indexer::mapping
