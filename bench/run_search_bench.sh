#!/usr/bin/env bash
# Search benchmark: offline reindex rate and index size, the fixed query set replayed over HTTP with
# wrk (GET /v1/search), and the same queries against SQLite FTS5 in-process (bench/fts5_bench.py).
#
#   bench/run_search_bench.sh [N ...]        (default: 100000; e.g. "100000 1000000")
# Env: WRK_THREADS (2) WRK_CONNS (64) WRK_DURATION (15s) FTS_SECONDS (15) STREETWISE (binary)
#      BENCH_WORK (work dir, default mktemp) KEEP=1 (keep data dirs, corpora, FTS5 databases)
set -uo pipefail
source "$(dirname "$0")/lib.sh"
SIZES=("${@:-100000}")
FTS_SECONDS=${FTS_SECONDS:-15}
setup_work
trap cleanup EXIT
QUERIES=$WORK/queries.jsonl
PATHS=$WORK/search-paths.txt

for N in "${SIZES[@]}"; do
  CORPUS=$WORK/corpus-$N.jsonl.corpus
  DATA=$WORK/data-search-$N
  log "=== N=$N"
  gen_corpus "$N" "$CORPUS" "$QUERIES" || exit 1
  [[ -s $QUERIES ]] || $PY "$BENCH_DIR/gen_corpus.py" --n 0 --out /dev/null --queries "$QUERIES"
  bulk_load "$N" "$DATA" "$CORPUS" || exit 1

  # Offline reindex. On a fresh data dir (no index yet) `streetwise reindex` builds the index once
  # (SearchIndex::Open) and exits; the rate is N / wall time of the whole command. Its log line
  # "indexer: generation ..." splits the time into writing, merging and fsync. The command's CPU
  # time (user+sys) and the load average tell how much of the 2 cores it had on a shared machine.
  log "streetwise reindex --data $DATA"
  t0=$(now)
  /usr/bin/time -f "cpu user %U s sys %S s" -o "$WORK/reindex-$N.time" "$SW" reindex --data "$DATA" 2> "$WORK/reindex-$N.log" \
    || { log "reindex failed"; tr '\r' '\n' < "$WORK/reindex-$N.log" | tail -3; exit 1; }
  wall=$(elapsed "$t0")
  rate=$($PY -c "import sys; print(f'{int(sys.argv[1])/float(sys.argv[2]):,.0f}')" "$N" "$wall")
  phases=$(tr '\r' '\n' < "$WORK/reindex-$N.log" | grep -o 'indexer: generation [^"]*' | tail -1)
  note "$N" "reindex (offline, fresh data dir, wall)" "$wall s => $rate threads/s; $(cat "$WORK/reindex-$N.time"); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  [[ -n $phases ]] && note "$N" "reindex phases" "$phases"
  note "$N" "index size (du DIR/index)" "$(du -sh "$DATA/index" | cut -f1) ($(du -sb "$DATA/index" | cut -f1) bytes); RocksDB $(du -sh "$DATA/db" | cut -f1)"

  start_server "$N" "$DATA" os "search-$N" || exit 1
  # The first start on a bulk-loaded dir also backfills the insights rollups from the change log
  # (minutes of CPU at 1M): measure after it, not alongside it.
  wait_idle 900
  $PY "$BENCH_DIR/benchlib.py" search-paths "$QUERIES" "$PATHS"
  export SW_PATHS=$PATHS
  log "per-query hit counts over HTTP (also warms the index)"
  check=$($PY "$BENCH_DIR/benchlib.py" search-check "$ADDR" "$TOKEN" "$QUERIES" "$WORK/hits-xapian-$N.jsonl") || exit 1
  while IFS= read -r l; do note "$N" "${l%%: *}" "${l#*: }"; done <<< "$check"
  run_wrk "$N" "throughput" search.lua
  run_wrk "$N" "single-stream" search.lua 1 1
  stop_server

  FTSDB=$WORK/fts5-$N.sqlite
  log "SQLite FTS5: building $FTSDB"
  build=$($PY "$BENCH_DIR/fts5_bench.py" build "$CORPUS" "$FTSDB") || exit 1
  echo "$build"
  note "$N" "FTS5 build (insert + optimize)" "$build"
  $PY "$BENCH_DIR/fts5_bench.py" counts "$FTSDB" "$QUERIES" "$WORK/hits-fts5-$N.jsonl"
  note "$N" "hit-count agreement" "$($PY "$BENCH_DIR/benchlib.py" compare-hits "$WORK/hits-xapian-$N.jsonl" "$WORK/hits-fts5-$N.jsonl" | head -1)"
  $PY "$BENCH_DIR/benchlib.py" compare-hits "$WORK/hits-xapian-$N.jsonl" "$WORK/hits-fts5-$N.jsonl" | tail -n +2 >&2
  for procs in 1 2; do
    log "SQLite FTS5: replaying the query set, $procs process(es), >= ${FTS_SECONDS}s"
    out=$($PY "$BENCH_DIR/fts5_bench.py" run "$FTSDB" "$QUERIES" --seconds "$FTS_SECONDS" --procs "$procs") || exit 1
    echo "$out"
    $PY "$BENCH_DIR/benchlib.py" add-json --n "$N" --results "$RESULTS" fts5 "fts5-$procs" "$out"
  done
  [[ -n ${KEEP:-} ]] || rm -rf "$DATA" "$FTSDB" "$CORPUS"
done

report_server_warnings
echo
echo "== streetwise search benchmark, $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
echo "   (FTS5 runs in-process: no HTTP, no JSON encoding, no facets, no spelling suggestion; see docs/benchmarks.md)"
$PY "$BENCH_DIR/benchlib.py" search-report "$RESULTS"
