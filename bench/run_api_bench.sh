#!/usr/bin/env bash
# API benchmark: bulk-load N threads, then wrk against GET /v1/threads/{id}, GET /v1/threads?limit=20
# and POST /v1/threads with --durability fsync and --durability os. POST /v1/threads also computes
# similar-thread suggestions; POST /v1/threads/{id}/answers (no suggestions) isolates the commit path.
#
#   bench/run_api_bench.sh [N]            (default N=100000)
# Env: WRK_THREADS (2) WRK_CONNS (64) WRK_DURATION (15s) WRK_TIMEOUT (30s) WARMUP (3s)
#      STREETWISE (binary) BENCH_WORK (work dir, default mktemp) KEEP=1 (keep data dirs and corpus)
set -uo pipefail
source "$(dirname "$0")/lib.sh"
N=${1:-100000}
WARMUP=${WARMUP:-3s}
setup_work
trap cleanup EXIT

CORPUS=$WORK/corpus-$N.jsonl.corpus
DATA=$WORK/data-api-$N
gen_corpus "$N" "$CORPUS" || exit 1
bulk_load "$N" "$DATA" "$CORPUS" || exit 1

# First start builds the Xapian index (there is none yet): start -> /readyz includes that build.
start_server "$N" "$DATA" fsync "fsync-first-start" || exit 1
log "collecting thread ids through GET /v1/threads"
IDS=$WORK/ids-$N.txt
$PY "$BENCH_DIR/benchlib.py" ids "$ADDR" "$TOKEN" "$IDS" >/dev/null || exit 1
export SW_IDS=$IDS
log "$(wc -l < "$IDS") ids"

wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"$WARMUP" -s "$BENCH_DIR/wrk/get_thread.lua" "http://$ADDR" > /dev/null
run_wrk "$N" "GET /v1/threads/{id}" get_thread.lua
run_wrk "$N" "GET /v1/threads?limit=20" list_threads.lua
run_wrk "$N" "POST /v1/threads (fsync)" post_thread.lua
wait_idle
run_wrk "$N" "POST /v1/threads/{id}/answers (fsync)" post_answer.lua
wait_idle
stop_server

start_server "$N" "$DATA" os "os" || exit 1
run_wrk "$N" "POST /v1/threads (os)" post_thread.lua
wait_idle
run_wrk "$N" "POST /v1/threads (os), 1 connection" post_thread.lua 1 1
wait_idle
run_wrk "$N" "POST /v1/threads short draft (os)" post_thread_short.lua
wait_idle
run_wrk "$N" "POST /v1/threads/{id}/answers (os)" post_answer.lua
wait_idle
stop_server

report_server_warnings
echo
echo "== streetwise API benchmark, N=$N, $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
$PY "$BENCH_DIR/benchlib.py" report "$RESULTS"
