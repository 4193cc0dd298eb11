// The HTTP representation of domain objects (docs/api.md, schemas/openapi.yaml). Internal to api/.
#pragma once

#include <boost/json/object.hpp>

#include "core/model.hpp"
#include "indexer/search_types.hpp"
#include "service/account_service.hpp"
#include "storage/store.hpp"

namespace streetwise::api::repr {

boost::json::object Org(const core::Org& org);
boost::json::object User(const core::User& user);
boost::json::object Token(const core::Token& token);
boost::json::object NewToken(const service::IssuedToken& issued);
// `sp`: the storage every value of the representation allocates from (default: the heap).
boost::json::object Answer(const core::Thread& thread, const core::Answer& answer, boost::json::storage_ptr sp = {});
boost::json::object Comment(const core::Comment& comment, boost::json::storage_ptr sp = {});
// Full thread with answers and comments.
boost::json::object Thread(const core::Thread& thread, boost::json::storage_ptr sp = {});
// Thread(thread) serialised: the body of GET /v1/threads/{id}.
std::string ThreadBody(const core::Thread& thread);
// List entry: no body, body_html, answers or comments.
boost::json::object ThreadSummary(const core::Thread& thread);
boost::json::object Revision(const core::Revision& rev);
boost::json::object TagCount(const storage::TagCount& tc);
boost::json::object Event(const core::Event& event);
boost::json::object SearchHit(const indexer::SearchHit& hit);

// `"v<version>"`: the strong ETag of a thread.
std::string ThreadETag(const core::Thread& thread);
std::string ThreadETag(std::int64_t version);

}  // namespace streetwise::api::repr
