# Shared shell functions for bench/run_*.sh (sourced, not executed).
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")
PY=/usr/bin/python3
export SW_WRK_DIR="$BENCH_DIR/wrk"

WRK_THREADS=${WRK_THREADS:-2}
WRK_CONNS=${WRK_CONNS:-64}
WRK_DURATION=${WRK_DURATION:-15s}
WRK_TIMEOUT=${WRK_TIMEOUT:-30s}  # wrk default is 2s: slower responses would be dropped from the latency figures

# The machine is shared (builds, tests). With sched_autogroup every session gets an equal CPU share
# whatever its nice value, so raise this session's autogroup priority (root only; our own processes
# only) to keep concurrent jobs from halving the benchmark. BENCH_NICE=0 disables.
raise_priority() {
  local nice=${BENCH_NICE:--10}
  [[ $nice == 0 ]] && return
  if [[ -w /proc/self/autogroup ]] && echo "$nice" > /proc/$$/autogroup 2>/dev/null; then
    :
  fi
  renice -n "$nice" -p $$ > /dev/null 2>&1 || true
}

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
now() { date +%s.%N; }
elapsed() { $PY -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$(now)"; }

# Work directory (corpus, data dirs, logs, results) and a private copy of the binary, so a rebuild
# by someone else during the run cannot change what is measured.
setup_work() {
  raise_priority
  WORK=${BENCH_WORK:-$(mktemp -d /tmp/streetwise-bench.XXXXXX)}
  mkdir -p "$WORK"
  local src=${STREETWISE:-$REPO_DIR/build/server/streetwise}
  cp "$src" "$WORK/streetwise"
  SW="$WORK/streetwise"
  RESULTS=${RESULTS:-$WORK/results.jsonl}
  log "scheduling: $(cat /proc/$$/autogroup 2>/dev/null), nice $(ps -o ni= -p $$ | tr -d ' ')"
  log "work dir $WORK (binary $(sha256sum "$SW" | cut -c1-12), git $(git -C "$REPO_DIR" rev-parse --short HEAD))"
}

note() {  # note N NAME VALUE
  $PY "$BENCH_DIR/benchlib.py" note --n "$1" --results "$RESULTS" "$2" "$3"
  log "$2: $3"
}

# gen_corpus N FILE [QUERIES]: reuses FILE if it already exists (same seed = same content).
gen_corpus() {
  local n=$1 file=$2 queries=${3:-}
  if [[ -s $file ]]; then log "reusing corpus $file"; return; fi
  local args=(--n "$n" --out "$file")
  [[ -n $queries ]] && args+=(--queries "$queries")
  $PY "$BENCH_DIR/gen_corpus.py" "${args[@]}"
}

# bulk_load N DATA FILE: records the load rate.
bulk_load() {
  local n=$1 data=$2 file=$3 t0
  t0=$(now)
  "$SW" bulk-load --data "$data" "$file" 2> "$WORK/bulk-load-$n.log"
  local rc=$? secs
  secs=$(elapsed "$t0")
  tail -n1 "$WORK/bulk-load-$n.log" >&2
  [[ $rc -eq 0 ]] || { log "bulk-load failed (rc $rc), see $WORK/bulk-load-$n.log"; return 1; }
  note "$n" "bulk-load (wall, incl. final flush)" "$(printf '%s s = %s threads/s' "$secs" \
    "$($PY -c "print(f'{$n/$secs:,.0f}')")")"
}

# start_server N DATA DURABILITY LABEL: sets SERVER_PID ADDR TOKEN; records start->/readyz time.
start_server() {
  local n=$1 data=$2 durability=$3 label=$4 t0
  rm -f "$data/listen-address"
  t0=$(now)
  "$SW" serve --data "$data" --listen 127.0.0.1:0 --durability "$durability" \
    > "$WORK/serve-$label.log" 2>&1 &
  SERVER_PID=$!
  while [[ ! -s $data/listen-address ]]; do
    kill -0 "$SERVER_PID" 2>/dev/null || { log "server exited; see $WORK/serve-$label.log"; return 1; }
    sleep 0.05
  done
  ADDR=$(cat "$data/listen-address")
  until curl -sf "http://$ADDR/readyz" > /dev/null; do sleep 0.05; done
  TOKEN=$(cat "$data/admin-token")
  export SW_TOKEN=$TOKEN
  note "$n" "server start -> /readyz ($label, durability $durability)" "$(elapsed "$t0") s"
}

stop_server() {
  [[ -n ${SERVER_PID:-} ]] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null
  wait "$SERVER_PID"
  local rc=$?
  [[ $rc -eq 0 ]] || log "server $SERVER_PID exited with status $rc"
  SERVER_PID=
}

# run_wrk N NAME SCRIPT [CONNS] [THREADS] [DURATION]
run_wrk() {
  local n=$1 name=$2 script=$3 conns=${4:-$WRK_CONNS} threads=${5:-$WRK_THREADS} dur=${6:-$WRK_DURATION}
  log "wrk: $name (-t$threads -c$conns -d$dur)"
  $PY "$BENCH_DIR/benchlib.py" run-wrk --name "$name" --n "$n" --server-pid "$SERVER_PID" --results "$RESULTS" \
    -- -t"$threads" -c"$conns" -d"$dur" --timeout "$WRK_TIMEOUT" --latency -s "$BENCH_DIR/wrk/$script" "http://$ADDR" \
    | tee -a "$WORK/wrk.log"
}

# Removes the big files (data dirs, corpora, FTS5 databases) unless KEEP=1; logs and results stay.
# wait_idle: lets the server finish work queued by the previous wrk run (wrk stops sending, but
# requests already accepted still run) so it does not bleed into the next measurement.
wait_idle() {  # wait_idle [LIMIT_S=120]
  local s
  s=$($PY "$BENCH_DIR/benchlib.py" wait-idle "$SERVER_PID" "${1:-120}")
  log "server idle after ${s}s"
}

# Prints server log lines above info (plain "... warning ..." or JSON "level":"warning" format).
report_server_warnings() {
  local f pat='"level":"(warn|warning|error|critical)"| (warn|warning|error|critical) '
  for f in "$WORK"/serve-*.log; do
    if grep -qE "$pat" "$f"; then
      log "log lines above info in $f:"
      grep -E "$pat" "$f" | sed -E 's/^\{"ts":"[^"]*",/{/; s/^[0-9T:.-]+Z //' | sort | uniq -c | sort -rn | head -20 >&2
    fi
  done
}

cleanup() {
  stop_server
  if [[ -z ${KEEP:-} ]]; then
    rm -rf "$WORK"/data-* "$WORK"/*.jsonl.corpus "$WORK"/*.sqlite "$WORK/streetwise"
  fi
  log "results and logs in $WORK"
}
