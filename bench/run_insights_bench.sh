#!/usr/bin/env bash
# Insights latency at N threads spread over a year (default N=100000):
#   gen_corpus --export-days 365 -> `streetwise import` (timestamps kept) -> serve -> wait until the
#   insights worker and the indexer have caught up -> insights_bench.py (sequential requests).
# usage: bench/run_insights_bench.sh [N ...]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
setup_work
trap cleanup EXIT

metric() {  # metric NAME: a gauge from /metrics
  curl -sf "http://$ADDR/metrics" | awk -v m="$1" '$1 == m {print $2}'
}

for n in "${@:-100000}"; do
  corpus="$WORK/insights-$n.jsonl.corpus"
  if [[ ! -s $corpus ]]; then
    $PY "$BENCH_DIR/gen_corpus.py" --n "$n" --export-days 365 --out "$corpus"
  fi
  data="$WORK/data-insights-$n"
  rm -rf "$data"
  "$SW" serve --data "$data" --listen 127.0.0.1:0 > "$WORK/serve-init-$n.log" 2>&1 &
  SERVER_PID=$!
  until [[ -s $data/listen-address ]]; do sleep 0.05; done
  stop_server
  t0=$(now)
  out=$("$SW" import "$corpus" --data "$data" 2> "$WORK/import-$n.log")
  note "$n" "import (export format, wall)" "$(elapsed "$t0") s"
  token=$(printf '%s' "$out" | $PY -c 'import json,sys; print(json.load(sys.stdin)["admin_token"])')
  printf '%s\n' "$token" > "$WORK/token-$n"  # to rerun insights_bench.py against a KEEP=1 data dir
  # The search index is built offline (`streetwise reindex`, both cores) rather than by the server
  # tailing the import's ~2 events per thread one batch at a time.
  t0=$(now)
  "$SW" reindex --data "$data" 2> "$WORK/reindex-$n.log"
  note "$n" "reindex after import (wall)" "$(elapsed "$t0") s"
  t0=$(now)
  start_server "$n" "$data" os "insights-$n"
  export SW_TOKEN=$token
  log "waiting for the insights worker and the indexer to catch up"
  while :; do
    lag=$(metric streetwise_insights_lag_events); ilag=$(metric streetwise_index_lag_events)
    # INSIGHTS_ONLY=1: do not wait for the search index (topics/trending are then not meaningful).
    [[ ${lag%.*} -lt 100 && ( -n ${INSIGHTS_ONLY:-} || ${ilag%.*} -lt 100 ) ]] && break
    sleep 1
  done
  note "$n" "start -> insights and index caught up" "$(elapsed "$t0") s"
  $PY "$BENCH_DIR/insights_bench.py" --addr "$ADDR" --token "$token" --results "$RESULTS" --n "$n" | tee -a "$WORK/insights.log"
  stop_server
done
report_server_warnings
