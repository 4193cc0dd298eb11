#!/usr/bin/env bash
# One entry point for a fresh Debian 12 machine:
#   scripts/dev.sh run    install what is missing, build, start the server (data in ./data, 127.0.0.1:8080)
#   scripts/dev.sh test   install what is missing, build, run every test, in three stages:
#                           plain     unit + integration tests (build/)
#                           sanitize  the same tests built with ASan + UBSan (build-asan/)
#                           fuzz      each libFuzzer target for FUZZ_SECONDS, default 30 (build-fuzz/)
#                         `scripts/dev.sh test plain` (or sanitize, fuzz) runs only the stages named.
#   scripts/dev.sh build  install what is missing and build only
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build_dir=${STREETWISE_BUILD_DIR:-$root/build}
asan_dir=${STREETWISE_ASAN_BUILD_DIR:-$root/build-asan}

build() {
  scripts/deps.sh
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE:-RelWithDebInfo} >/dev/null
  cmake --build "$build_dir" -j "$(nproc)"
}

test_plain() {
  build
  (cd "$build_dir" && ctest --output-on-failure --timeout 900)
}

# Every test again, built with AddressSanitizer + UBSan (gcc). A report in any process (the unit
# test binary or a server started by the integration suite) fails the stage: the processes abort
# on the first error, and reports are also collected from log_path, which catches leaks found at
# the exit of a server whose exit code no test looks at.
test_sanitize() {
  scripts/deps.sh
  # -O1: sanitized code at -O0 runs the suite several times slower for no extra findings.
  cmake -S . -B "$asan_dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" \
    -DSTREETWISE_SANITIZE=ON >/dev/null
  cmake --build "$asan_dir" -j "$(nproc)"
  local reports=$asan_dir/sanitizer-reports
  rm -rf "$reports"
  mkdir -p "$reports"
  local status=0
  (
    cd "$asan_dir"
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:log_path=$reports/asan
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan
    export STREETWISE_SANITIZED=1  # the integration suite widens its memory and time budgets
    ctest --output-on-failure --timeout 1800
  ) || status=$?
  if compgen -G "$reports/*" >/dev/null; then
    echo "sanitize: sanitizer reports:" >&2
    for f in "$reports"/*; do
      echo "--- $f" >&2
      head -100 "$f" >&2
    done
    status=1
  fi
  return $status
}

test_fuzz() {
  scripts/deps.sh
  tests/fuzz/run.sh
}

case "${1:-}" in
  run)
    build
    exec "$build_dir/server/streetwise" serve --data "${STREETWISE_DATA_DIR:-$root/data}" \
      --listen "${STREETWISE_LISTEN:-127.0.0.1:8080}"
    ;;
  test)
    shift
    stages=("$@")
    # By default every test runs once, in the ASan + UBSan build (so no test runs without the
    # sanitizers watching), then the fuzzers. `plain` runs the same suite in the release build.
    [ ${#stages[@]} -gt 0 ] || stages=(sanitize fuzz)
    for stage in "${stages[@]}"; do
      case "$stage" in
        plain | sanitize | fuzz) ;;
        *)
          echo "usage: scripts/dev.sh test [plain] [sanitize] [fuzz]" >&2
          exit 2
          ;;
      esac
    done
    for stage in "${stages[@]}"; do
      start=$SECONDS
      echo "== test stage: $stage" >&2
      "test_$stage"
      echo "== test stage $stage passed in $((SECONDS - start)) s" >&2
    done
    ;;
  build)
    build
    ;;
  *)
    echo "usage: scripts/dev.sh run|test|build" >&2
    exit 2
    ;;
esac
