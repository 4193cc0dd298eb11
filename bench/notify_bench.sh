#!/usr/bin/env bash
# Notification delivery benchmark: time from POST /v1/threads/{id}/answers to the org webhook
# arriving at a local receiver (p50/p99) at a steady rate, and API latency while a receiver is
# down or hung; then POST /v1/threads -> assignment.created when expert routing is available.
# See bench/notify_bench.py for the phases.
#
#   bench/notify_bench.sh [RATE=200] [SECONDS=15]
# Env: STREETWISE (binary) BENCH_WORK (work dir) DURABILITY (fsync) KEEP=1 QUESTION_RATE (5)
set -uo pipefail
source "$(dirname "$0")/lib.sh"
RATE=${1:-200}
SECONDS_PER_PHASE=${2:-15}
DURABILITY=${DURABILITY:-fsync}
setup_work
trap cleanup EXIT

DATA=$WORK/data-notify
mkdir -p "$DATA"
start_server 0 "$DATA" "$DURABILITY" "notify" || exit 1
log "load: ${RATE}/s answers for ${SECONDS_PER_PHASE}s per phase (open loop), durability $DURABILITY"
$PY "$BENCH_DIR/notify_bench.py" "$ADDR" "$TOKEN" --rate "$RATE" --seconds "$SECONDS_PER_PHASE" \
  --question-rate "${QUESTION_RATE:-5}" --out "$WORK/notify.json" | tee "$WORK/notify.jsonl" || exit 1
curl -s "http://$ADDR/metrics" | grep -E '^streetwise_notify_' | tee "$WORK/notify-metrics.txt" >&2
stop_server
report_server_warnings

$PY - "$WORK/notify.json" <<'EOF'
import json, sys
rows = json.load(open(sys.argv[1]))
print("| phase | req/s | API p50 ms | API p99 ms | webhook p50 ms | webhook p99 ms | max ms | lost | dup |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    print(f"| {r['phase']} | {r['achieved_rate']} | {r['api_p50_ms']} | {r['api_p99_ms']} | {r['deliver_p50_ms']} | "
          f"{r['deliver_p99_ms']} | {r['deliver_max_ms']} | {r['lost']} | {r['duplicates']} |")
EOF
