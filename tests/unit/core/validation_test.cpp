#include <doctest/doctest.h>
#include "core/validation.hpp"
TEST_CASE("placeholder") { CHECK(streetwise::core::IsValidDate("2026-02-28")); }
