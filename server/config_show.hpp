// `streetwise config show`: the effective configuration rendered as TOML.
#pragma once

#include <string>

#include "server/config.hpp"

namespace streetwise::server {

// Renders every key of `config` as a flat TOML document that LoadConfigFile accepts, one
// `key = value` line per key with a comment. Secrets are masked: a set root_token prints as
// "********" (an unset one as ""). When adding a Config field, add its line here too (the
// integration test compares these keys with the table in docs/operations.md).
std::string FormatConfigToml(const Config& config);

}  // namespace streetwise::server
