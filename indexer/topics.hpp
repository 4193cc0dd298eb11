// Internal to indexer/: recurring topics and trending terms computed with Xapian's relevance
// feedback (RSet), expand sets (ESet) and elite-set queries. SearchIndex::Topics/Trending call these
// on a reader of the live generation; exposed in a header so tests/unit/indexer can run them on a
// small database. docs/insights.md ("Topics") explains the method and its bounds.
#pragma once

#include <xapian.h>

#include "indexer/topic_types.hpp"

namespace streetwise::indexer::topics {

// Groups the newest threads of the request's org, kind and period that ask for the same thing, then
// counts each group's threads and accounts over the whole period and the period before it.
// Precondition: r.from <= r.to. Throws Xapian::Error (the caller converts it).
TopicsResponse FindTopics(const Xapian::Database& db, const TopicsRequest& r);

// Words and tags whose thread counts grew most against the period of equal length before r.from.
// Precondition: r.from <= r.to. Throws Xapian::Error.
TrendingResponse FindTrending(const Xapian::Database& db, const TrendingRequest& r);

}  // namespace streetwise::indexer::topics
