#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) in build-fuzz/ and runs each for a bounded time.
#
#   tests/fuzz/run.sh                    every target, FUZZ_SECONDS (default 30) each
#   tests/fuzz/run.sh cursor http_request   only these targets
#   tests/fuzz/run.sh --reproduce FILE TARGET   run one input (e.g. a crash-* file) once
#
# Environment: FUZZ_SECONDS, FUZZ_BUILD_DIR (default ./build-fuzz), FUZZ_JOBS (build parallelism,
# default nproc). Fails if any target crashes, times out (25 s per input), exceeds 2 GB or violates
# a property; the offending input is kept in $FUZZ_BUILD_DIR/fuzz-artifacts/ (fix the bug, then add
# the input to tests/fuzz/corpus/<target>/ as a regression seed).
set -euo pipefail
if [ "${1:-}" = "--reproduce" ]; then
  [ $# -eq 3 ] || { echo "usage: $0 --reproduce FILE TARGET" >&2; exit 2; }
  repro_file=$(realpath "$2")
fi
cd "$(dirname "$0")/../.."
root=$(pwd)
build_dir=${FUZZ_BUILD_DIR:-$root/build-fuzz}
seconds=${FUZZ_SECONDS:-30}
all_targets=(request_body search_query cursor core_text http_request)

# -O1 with line tables only: symbolised stack traces at a third of the compile time of -O2 -g;
# no NDEBUG, so assertions (ours, Boost's) count as findings.
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" -DSTREETWISE_FUZZ=ON >/dev/null
cmake --build "$build_dir" --target fuzz_targets -j "${FUZZ_JOBS:-$(nproc)}"

scratch=$(mktemp -d)  # target scratch data (RocksDB, Xapian) and the run's new corpus entries
trap 'rm -rf "$scratch"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

if [ -n "${repro_file:-}" ]; then
  TMPDIR=$scratch "$build_dir/tests/fuzz/fuzz_$3" -runs=1 "$repro_file"
  exit
fi

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
artifacts=$build_dir/fuzz-artifacts
mkdir -p "$artifacts"
failed=()
for t in "${targets[@]}"; do
  bin=$build_dir/tests/fuzz/fuzz_$t
  [ -x "$bin" ] || { echo "fuzz: no target $t (have: ${all_targets[*]})" >&2; exit 2; }
  mkdir -p "$scratch/$t/tmp" "$scratch/$t/new"
  log=$scratch/$t/log
  echo "fuzz: $t for ${seconds}s"
  # New inputs go to the first (scratch) directory; the committed seeds are only read.
  if TMPDIR=$scratch/$t/tmp "$bin" -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=2048 -timeout=25 \
      -print_final_stats=1 -artifact_prefix="$artifacts/$t-" "$scratch/$t/new" "tests/fuzz/corpus/$t" >"$log" 2>&1; then
    grep -a -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log" |
      sed "s/^/fuzz: $t /"
  else
    echo "fuzz: $t FAILED; last lines of its log:" >&2
    grep -a -v -E '^#[0-9]+|NEW_FUNC' "$log" | tail -60 >&2
    echo "fuzz: reproduce with: tests/fuzz/run.sh --reproduce <file above> $t" >&2
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]} (inputs in $artifacts)" >&2
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${seconds}s without a finding"
