// Helpers shared by the libFuzzer targets: a fatal property check and a scratch directory.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

namespace streetwise::fuzz {

// Fails the run (libFuzzer saves the input as crash-*) when a property does not hold.
[[noreturn]] inline void Fail(std::string_view what, std::string_view detail = {}) {
  std::fprintf(stderr, "\nFUZZ PROPERTY VIOLATED: %.*s\n%.*s\n", static_cast<int>(what.size()), what.data(),
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

#define FUZZ_CHECK(cond, detail)                                        \
  do {                                                                  \
    if (!(cond)) ::streetwise::fuzz::Fail("FUZZ_CHECK(" #cond ")", detail); \
  } while (0)

// A fresh directory under $TMPDIR (run.sh points TMPDIR at a directory it removes afterwards).
// Process lifetime: a fuzz target keeps its world for the whole run, and the driver exits
// without running destructors of in-flight state, so this never removes anything itself.
inline std::filesystem::path MakeScratchDir(const char* name) {
  std::string pattern = (std::filesystem::temp_directory_path() / (std::string(name) + "-XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
  return pattern;
}

}  // namespace streetwise::fuzz
