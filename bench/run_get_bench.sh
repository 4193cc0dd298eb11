#!/usr/bin/env bash
# GET /v1/threads/{id} only (issue 2's read-path target), quick to repeat: reuses a bulk-loaded and
# indexed data dir, and can also measure with the server and wrk pinned to separate cores.
#
#   bench/run_get_bench.sh [N]            (default N=100000)
# Env: BENCH_DATA=DIR  reuse this data dir (bulk-loaded and indexed by an earlier run with KEEP=1)
#                      instead of loading N threads. GETs do not change it, but a newer binary may
#                      add column families an older one cannot open: keep one copy per binary.
#      PIN=1           after the unpinned run, one more with the server on CPU 1 and wrk on CPU 0
#                      (taskset; each gets one core, so wrk no longer competes with the server)
#      RUNS (1)        unpinned wrk runs on the same server
#      plus run_api_bench.sh's: WRK_THREADS (2) WRK_CONNS (64) WRK_DURATION (15s) WARMUP (3s)
#      STREETWISE (binary) BENCH_WORK KEEP=1
# Server settings (io_threads and so on) come from the usual STREETWISE_* environment variables.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
N=${1:-100000}
WARMUP=${WARMUP:-3s}
RUNS=${RUNS:-1}
setup_work
trap cleanup EXIT

if [[ -n ${BENCH_DATA:-} ]]; then
  DATA=$BENCH_DATA
  log "reusing data dir $DATA"
else
  CORPUS=$WORK/corpus-$N.jsonl.corpus
  DATA=$WORK/data-api-$N
  gen_corpus "$N" "$CORPUS" || exit 1
  bulk_load "$N" "$DATA" "$CORPUS" || exit 1
fi

start_server "$N" "$DATA" fsync "get" || exit 1
IDS=$WORK/ids-$N.txt
$PY "$BENCH_DIR/benchlib.py" ids "$ADDR" "$TOKEN" "$IDS" >/dev/null || exit 1
export SW_IDS=$IDS
log "$(wc -l < "$IDS") ids"

wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"$WARMUP" -s "$BENCH_DIR/wrk/get_thread.lua" "http://$ADDR" > /dev/null
for ((i = 1; i <= RUNS; i++)); do
  run_wrk "$N" "GET /v1/threads/{id}" get_thread.lua
done

if [[ -n ${PIN:-} ]]; then
  # Every thread of the server (-a) onto CPU 1; wrk inherits CPU 0 from the wrapper below.
  taskset -a -p -c 1 "$SERVER_PID" > /dev/null || exit 1
  wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"$WARMUP" -s "$BENCH_DIR/wrk/get_thread.lua" "http://$ADDR" > /dev/null
  log "wrk: GET /v1/threads/{id} pinned (server CPU 1, wrk CPU 0)"
  taskset -c 0 $PY "$BENCH_DIR/benchlib.py" run-wrk --name "GET /v1/threads/{id} pinned 1+1" --n "$N" \
    --server-pid "$SERVER_PID" --results "$RESULTS" \
    -- -t"$WRK_THREADS" -c"$WRK_CONNS" -d"$WRK_DURATION" --timeout "$WRK_TIMEOUT" --latency \
    -s "$BENCH_DIR/wrk/get_thread.lua" "http://$ADDR" | tee -a "$WORK/wrk.log"
fi
stop_server

report_server_warnings
echo
echo "== streetwise GET benchmark, N=$N, $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
$PY "$BENCH_DIR/benchlib.py" report "$RESULTS"
