// Persisted value encodings (JSON with a format version "fv"). Internal to storage/.
#pragma once

#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/model.hpp"

namespace streetwise::storage::codec {

std::string Encode(const core::Org& v);
std::string Encode(const core::User& v);
std::string Encode(const core::Token& v);
std::string Encode(const core::Thread& v);
std::string Encode(const core::Revision& v);
std::string Encode(const core::Event& v);
std::string Encode(const core::Suggestion& v);

// Decoders return kInternal with the cause if a stored value cannot be read (corruption or an
// unknown future format).
core::Result<core::Org> DecodeOrg(std::string_view s);
core::Result<core::User> DecodeUser(std::string_view s);
core::Result<core::Token> DecodeToken(std::string_view s);
core::Result<core::Thread> DecodeThread(std::string_view s);
core::Result<core::Revision> DecodeRevision(std::string_view s);
core::Result<core::Event> DecodeEvent(std::string_view s);
core::Result<core::Suggestion> DecodeSuggestion(std::string_view s);

// The compact per-thread record in thread_index used to filter lists without loading threads.
struct ThreadIndexEntry {
  core::ThreadStatus status = core::ThreadStatus::kOpen;
  core::ThreadKind kind = core::ThreadKind::kQuestion;
  std::string author_id;
};
std::string Encode(const ThreadIndexEntry& v);
core::Result<ThreadIndexEntry> DecodeThreadIndexEntry(std::string_view s);

}  // namespace streetwise::storage::codec
