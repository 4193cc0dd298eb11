#!/usr/bin/python3
"""Helpers for the streetwise benchmark scripts (stdlib only).

  benchlib.py wrk-parse WRK_OUTPUT                 -> one JSON object: rps, p50_ms, p99_ms, non2xx, errors...
  benchlib.py ids ADDR TOKEN OUT [--max N]         -> thread ids via GET /v1/threads (paged, limit=100)
  benchlib.py search-paths QUERIES OUT             -> URL-encoded /v1/search paths for bench/wrk/search.lua
  benchlib.py search-check ADDR TOKEN QUERIES OUT  -> per-query hit counts over HTTP (JSONL, for FTS5 comparison)
  benchlib.py run-wrk --name NAME --n N --server-pid PID --results FILE -- WRK ARGS...
        runs wrk, prints its output, appends {type: wrk, rps, p50_ms, p99_ms, CPU of server/wrk/other} to FILE
  benchlib.py wait-idle PID [LIMIT_S]              -> waits (at most LIMIT_S, default 120) until PID is idle (< 5% CPU over 1 s), prints seconds
  benchlib.py note --n N --results FILE NAME VALUE  -> appends a free-form figure to FILE
  benchlib.py add-json --n N --results FILE TYPE NAME JSON -> appends a JSON record (e.g. FTS5 figures)
  benchlib.py compare-hits XAPIAN_JSONL FTS5_JSONL  -> do both engines return as many hits per query?
  benchlib.py report RESULTS_JSONL                 -> API summary table
  benchlib.py search-report RESULTS_JSONL          -> search summary and ratio tables

CPU figures are percent of one core over the wrk run (the machine has nproc cores: 200% = both busy).
"""
import os
import resource
import subprocess
import time
import json
import re
import sys
import urllib.parse
import urllib.request

UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def parse_wrk(text):
    out = {"rps": None, "p50_ms": None, "p75_ms": None, "p90_ms": None, "p99_ms": None, "requests": None,
           "non2xx": 0, "socket_errors": {}, "max_ms": None}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        out["rps"] = float(m.group(1))
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", text)
    if m:
        out["requests"] = int(m.group(1))
    for pct, val, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M):
        out[f"p{pct}_ms"] = round(float(val) * UNIT_MS[unit], 3)
    m = re.search(r"Latency\s+[\d.]+\w+\s+[\d.]+\w+\s+([\d.]+)(us|ms|s|m)", text)
    if m:
        out["max_ms"] = round(float(m.group(1)) * UNIT_MS[m.group(2)], 3)
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    if m:
        out["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        out["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups())))
    return out


def http_get(addr, token, path):
    req = urllib.request.Request(f"http://{addr}{path}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


def cmd_ids(addr, token, out_path, max_n):
    ids, cursor = [], None
    while len(ids) < max_n:
        path = "/v1/threads?limit=100" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
        page = http_get(addr, token, path)
        ids.extend(item["id"] for item in page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            break
    with open(out_path, "w") as f:
        f.write("\n".join(ids[:max_n]) + "\n")
    print(len(ids[:max_n]))


def search_path(q, limit=20):
    params = [("q", q["q"])] + [("tag", t) for t in q.get("tags", [])] + [("limit", str(limit))]
    return "/v1/search?" + urllib.parse.urlencode(params, quote_via=urllib.parse.quote)


def load_queries(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def cmd_search_paths(queries, out_path):
    with open(out_path, "w") as f:
        for q in load_queries(queries):
            f.write(search_path(q) + "\n")


def cmd_search_check(addr, token, queries, out_path):
    """Two serial passes over the query set; hit counts and the second (warm) pass's latency per query."""
    qs = load_queries(queries)
    for _ in range(2):
        rows = []
        for i, q in enumerate(qs):
            t = time.perf_counter()
            r = http_get(addr, token, search_path(q))
            ms = (time.perf_counter() - t) * 1000
            rows.append({"i": i, "q": q["q"], "tags": q.get("tags", []), "type": q.get("type"),
                         "hits": len(r["results"]), "total": r["estimated_total"], "ms": round(ms, 2),
                         "did_you_mean": r.get("did_you_mean")})
    with open(out_path, "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    slow, seen = [], set()
    for x in sorted(rows, key=lambda x: -x["ms"]):
        key = (x["q"], tuple(x["tags"]))
        if key not in seen and len(slow) < 5:
            seen.add(key)
            slow.append(x)
    print("slowest queries over HTTP (serial, warm): " +
          "; ".join(f"{x['q']!r}{' tag=' + ','.join(x['tags']) if x['tags'] else ''} {x['ms']:.0f} ms" for x in slow))
    by_type = {}
    for x in rows:
        by_type.setdefault(x["type"], []).append(x["ms"])
    print("median ms by query type over HTTP (serial, warm): " +
          ", ".join(f"{t} {sorted(v)[len(v) // 2]:.1f}" for t, v in sorted(by_type.items())))


def fmt(v, nd=1):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.{nd}f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def cmd_report(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    wrk = [r for r in rows if r.get("type") == "wrk"]
    if wrk:
        print(f"{'N':>9}  {'benchmark':<40} {'conns':>5} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'non-2xx':>8} {'sock err':>8} {'srv CPU':>8} {'wrk CPU':>8} {'other':>6}")
        for r in wrk:
            err = sum(r.get("socket_errors", {}).values())
            print(f"{r['n']:>9,}  {r['name']:<40} {r['conns']:>5} {fmt(r['rps']):>10} {fmt(r['p50_ms'], 2):>8} {fmt(r['p99_ms'], 2):>8} {r['non2xx']:>8} {err:>8} "
                  f"{fmt(r.get('server_cpu_pct'), 0):>7}% {fmt(r.get('wrk_cpu_pct'), 0):>7}% {fmt(r.get('other_cpu_pct'), 0):>5}%")
    for r in rows:
        if r.get("type") == "note":
            print(f"{r['n']:>9,}  {r['name']}: {r['value']}")


def proc_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime (whole process)
    except (OSError, ValueError, IndexError):
        return None


def system_busy_ticks():
    with open("/proc/stat") as f:
        v = list(map(int, f.readline().split()[1:]))
    # user nice system idle iowait irq softirq steal
    return v[0] + v[1] + v[2] + v[5] + v[6] + v[7]


def cmd_run_wrk(argv):
    sep = argv.index("--")
    opts, wrk_args = argv[:sep], argv[sep + 1:]
    o = {opts[i].lstrip("-"): opts[i + 1] for i in range(0, len(opts), 2)}
    hz = os.sysconf("SC_CLK_TCK")
    pid = int(o["server-pid"])
    conns = "?"
    for i, x in enumerate(wrk_args):
        if x in ("-c", "--connections") and i + 1 < len(wrk_args):
            conns = wrk_args[i + 1]
        elif x.startswith("-c") and x[2:].isdigit():
            conns = x[2:]
    s0, b0 = proc_ticks(pid), system_busy_ticks()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    res = subprocess.run(["wrk"] + wrk_args, capture_output=True, text=True)
    dt = time.monotonic() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    s1, b1 = proc_ticks(pid), system_busy_ticks()
    sys.stdout.write(res.stdout)
    sys.stderr.write(res.stderr)
    r = parse_wrk(res.stdout)
    srv = (s1 - s0) / hz / dt * 100 if s0 is not None and s1 is not None else None
    wrk_cpu = ((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)) / dt * 100
    busy = (b1 - b0) / hz / dt * 100
    r.update({"type": "wrk", "name": o["name"], "n": int(o["n"]), "conns": conns, "wrk_args": " ".join(wrk_args),
              "server_cpu_pct": srv, "wrk_cpu_pct": wrk_cpu,
              "other_cpu_pct": (busy - (srv or 0) - wrk_cpu), "wrk_rc": res.returncode,
              "wrk_stderr": res.stderr.strip()[:500]})
    with open(o["results"], "a") as f:
        f.write(json.dumps(r) + "\n")
    if res.returncode != 0 or r["rps"] is None:
        print(f"benchlib: wrk failed (rc {res.returncode})", file=sys.stderr)
        sys.exit(1)


def cmd_wait_idle(pid, limit_s=120.0):
    """Waits until the process uses < 5% of a core over 1 s (queued work from a previous run drained)."""
    hz = os.sysconf("SC_CLK_TCK")
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        a = proc_ticks(pid)
        time.sleep(1)
        b = proc_ticks(pid)
        if a is None or b is None or (b - a) / hz < 0.05:
            break
    print(f"{time.monotonic() - t0:.1f}")


def cmd_note(argv):
    # argv: note --n N --results FILE NAME VALUE
    o = {"n": argv[2], "results": argv[4]}
    name, value = argv[5], argv[6]
    with open(o["results"], "a") as f:
        f.write(json.dumps({"type": "note", "n": int(o["n"]), "name": name, "value": value}) + "\n")


def cmd_add_json(argv):
    # add-json --n N --results FILE TYPE NAME JSON
    rec = json.loads(argv[7])
    rec.update({"type": argv[5], "n": int(argv[2]), "name": argv[6]})
    with open(argv[4], "a") as f:
        f.write(json.dumps(rec) + "\n")


def cmd_compare_hits(xapian, fts):
    x = [json.loads(line) for line in open(xapian)]
    f = [json.loads(line) for line in open(fts)]
    same = sum(a["hits"] == b["hits"] for a, b in zip(x, f))
    zx = sum(a["hits"] == 0 for a in x)
    zf = sum(b["hits"] == 0 for b in f)
    full = sum(a["hits"] == 20 for a in x)
    print(f"{same}/{len(x)} queries return the same number of hits (<= 20) in both engines; "
          f"{full} return a full page of 20 in Xapian; zero hits: Xapian {zx}, FTS5 {zf}")
    for a, b in zip(x, f):
        if a["hits"] != b["hits"]:
            print(f"  differs: q={a['q']!r} tags={a['tags']}: Xapian {a['hits']} hits (est. total {a['total']}), "
                  f"FTS5 {b['hits']} hits (total {b['total']})")


def cmd_search_report(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    ns = sorted({r["n"] for r in rows})
    print(f"{'N':>9}  {'engine / mode':<44} {'queries/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} "
          f"{'srv CPU':>8} {'other':>6}")
    for n in ns:
        for r in rows:
            if r["n"] != n:
                continue
            if r["type"] == "wrk":
                print(f"{n:>9,}  {'Xapian HTTP ' + r['name'] + ' -c' + str(r['conns']):<44} {fmt(r['rps']):>10} "
                      f"{fmt(r['p50_ms'], 2):>8} {fmt(r['p99_ms'], 2):>8} {r['non2xx']:>8} "
                      f"{fmt(r.get('server_cpu_pct'), 0):>7}% {fmt(r.get('other_cpu_pct'), 0):>5}%")
            elif r["type"] == "fts5":
                print(f"{n:>9,}  {'SQLite FTS5 in-process, ' + str(r['procs']) + ' process(es)':<44} "
                      f"{fmt(r['qps']):>10} {fmt(r['p50_ms'], 2):>8} {fmt(r['p99_ms'], 2):>8} {'-':>8} "
                      f"{'-':>8} {'-':>6}")
    print()
    print(f"{'N':>9}  {'ratio (Xapian / FTS5)':<58} {'value':>8}")
    for n in ns:
        w = {r["name"]: r for r in rows if r["n"] == n and r["type"] == "wrk"}
        f = {r["procs"]: r for r in rows if r["n"] == n and r["type"] == "fts5"}
        tp, lat = w.get("throughput"), w.get("single-stream")
        def ratio(a, b):
            return f"{a / b:.2f}x" if a and b else "-"
        if tp and 1 in f:
            print(f"{n:>9,}  {'throughput: HTTP -c' + str(tp['conns']) + ' vs FTS5 1 process':<58} {ratio(tp['rps'], f[1]['qps']):>8}")
        if tp and 2 in f:
            print(f"{n:>9,}  {'throughput: HTTP -c' + str(tp['conns']) + ' vs FTS5 2 processes':<58} {ratio(tp['rps'], f[2]['qps']):>8}")
        if lat and 1 in f:
            print(f"{n:>9,}  {'throughput: HTTP -c1 vs FTS5 1 process (both serial)':<58} {ratio(lat['rps'], f[1]['qps']):>8}")
            print(f"{n:>9,}  {'p50 latency: HTTP -c1 / FTS5 1 process (lower is better)':<58} {ratio(lat['p50_ms'], f[1]['p50_ms']):>8}")
            print(f"{n:>9,}  {'p99 latency: HTTP -c1 / FTS5 1 process (lower is better)':<58} {ratio(lat['p99_ms'], f[1]['p99_ms']):>8}")
    print()
    for r in rows:
        if r["type"] == "note":
            print(f"{r['n']:>9,}  {r['name']}: {r['value']}")


def main():
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    cmd = a[0]
    if cmd == "wrk-parse":
        print(json.dumps(parse_wrk(open(a[1]).read())))
    elif cmd == "ids":
        max_n = int(a[a.index("--max") + 1]) if "--max" in a else 10 ** 9
        cmd_ids(a[1], a[2], a[3], max_n)
    elif cmd == "search-paths":
        cmd_search_paths(a[1], a[2])
    elif cmd == "search-check":
        cmd_search_check(a[1], a[2], a[3], a[4])
    elif cmd == "run-wrk":
        cmd_run_wrk(a[1:])
    elif cmd == "wait-idle":
        cmd_wait_idle(int(a[1]), float(a[2]) if len(a) > 2 else 120.0)
    elif cmd == "note":
        cmd_note(a)
    elif cmd == "add-json":
        cmd_add_json(a)
    elif cmd == "compare-hits":
        cmd_compare_hits(a[1], a[2])
    elif cmd == "search-report":
        cmd_search_report(a[1])
    elif cmd == "report":
        cmd_report(a[1])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
