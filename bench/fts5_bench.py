#!/usr/bin/python3
"""SQLite FTS5 baseline for the search benchmark (in-process: no HTTP, no JSON, no facets).

  fts5_bench.py build CORPUS DB                 -> loads the bulk-load JSONL into an FTS5 table, prints JSON stats
  fts5_bench.py run DB QUERIES [--seconds S] [--procs P]
        replays the query set (same queries as the HTTP benchmark) in passes until S seconds have elapsed
        (at least one full pass, after one untimed warm-up pass); prints JSON: qps, p50/p99 ms, per-type p50
  fts5_bench.py counts DB QUERIES OUT           -> per-query hits (<= 20) and total matches, JSONL

Table: fts5(title, body, tags) with the porter stemmer; body = thread body + answers (as the Xapian
document text); tags = each tag's words (Xapian also indexes them as free text) plus one exact token
per tag ("t" + tag without punctuation) used for the tag filter. Ranking: bm25 with title weight 3
(Xapian indexes the title with wdf x3), LIMIT 21 (the server asks Xapian for limit + 1 to set has_more),
and a snippet() per hit like the server's highlighted snippet.
"""
import json
import multiprocessing
import os
import re
import sqlite3
import statistics
import sys
import time

QUERY_SQL = ("SELECT rowid, title, snippet(docs, 1, '<mark>', '</mark>', '…', 32) FROM docs "
             "WHERE docs MATCH ? ORDER BY rank LIMIT 21")


def tag_token(tag):
    return "t" + re.sub(r"[^a-z0-9]", "", tag)


def to_fts(q):
    """Xapian-style user query (words ANDed, "quoted phrases") + tag filters -> FTS5 MATCH expression."""
    parts = []
    for m in re.finditer(r'"([^"]*)"|(\S+)', q["q"]):
        toks = re.findall(r"[A-Za-z0-9]+", m.group(1) if m.group(1) is not None else m.group(2))
        if toks:
            parts.append('"' + " ".join(toks) + '"')
    expr = " AND ".join(parts)
    for t in q.get("tags", []):
        expr = f'({expr}) AND tags : "{tag_token(t)}"'
    return expr


def load_queries(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def build(corpus, db):
    if os.path.exists(db):
        os.remove(db)
    con = sqlite3.connect(db, isolation_level=None)  # explicit transactions only
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("CREATE VIRTUAL TABLE docs USING fts5(title, body, tags, tokenize='porter unicode61')")
    con.execute("INSERT INTO docs(docs, rank) VALUES('rank', 'bm25(3.0, 1.0, 1.0)')")
    seen_tokens = {}
    t0 = time.monotonic()
    n = 0

    def rows():
        nonlocal n
        with open(corpus) as f:
            for line in f:
                o = json.loads(line)
                tags = o.get("tags", [])
                for t in tags:
                    tok = tag_token(t)
                    if seen_tokens.setdefault(tok, t) != t:
                        raise SystemExit(f"tag token collision: {t} / {seen_tokens[tok]}")
                body = "\n\n".join([o.get("body", "")] + o.get("answers", []))
                n += 1
                yield (o["title"], body, " ".join([t.replace("-", " ") for t in tags] + [tag_token(t) for t in tags]))

    con.execute("BEGIN")
    con.executemany("INSERT INTO docs(title, body, tags) VALUES (?, ?, ?)", rows())
    con.execute("COMMIT")
    t_insert = time.monotonic() - t0
    con.execute("INSERT INTO docs(docs) VALUES('optimize')")
    con.commit()
    t_total = time.monotonic() - t0
    con.close()
    print(json.dumps({"threads": n, "insert_s": round(t_insert, 2), "optimize_s": round(t_total - t_insert, 2),
                      "total_s": round(t_total, 2), "threads_per_s": round(n / t_total),
                      "db_bytes": os.path.getsize(db)}))


def _worker(args):
    db, exprs, types, seconds, offset = args
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    cur = con.cursor()
    for e in exprs:  # warm-up pass, untimed
        cur.execute(QUERY_SQL, (e,)).fetchall()
    lat = []  # (type index, ns)
    start = time.monotonic()
    n = len(exprs)
    i = offset
    done = 0
    while True:
        e = exprs[i % n]
        t = time.perf_counter_ns()
        cur.execute(QUERY_SQL, (e,)).fetchall()
        lat.append((i % n, time.perf_counter_ns() - t))
        i += 1
        done += 1
        if done % n == 0 and time.monotonic() - start >= seconds:
            break
    return start, time.monotonic(), lat


def pct(sorted_vals, p):
    if not sorted_vals:
        return None
    k = min(len(sorted_vals) - 1, max(0, int(round(p / 100 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


def run(db, queries, seconds, procs):
    qs = load_queries(queries)
    exprs = [to_fts(q) for q in qs]
    types = [q.get("type", "?") for q in qs]
    jobs = [(db, exprs, types, seconds, k * (len(exprs) // max(1, procs))) for k in range(procs)]
    if procs == 1:
        results = [_worker(jobs[0])]
    else:
        with multiprocessing.get_context("fork").Pool(procs) as pool:
            results = pool.map(_worker, jobs)
    starts = [r[0] for r in results]
    ends = [r[1] for r in results]
    lat = [x for r in results for x in r[2]]
    wall = max(ends) - min(starts)
    ms = sorted(ns / 1e6 for _, ns in lat)
    by_type = {}
    for qi, ns in lat:
        by_type.setdefault(types[qi], []).append(ns / 1e6)
    per_query_p50 = {}
    for qi, ns in lat:
        per_query_p50.setdefault(qi, []).append(ns / 1e6)
    slowest = sorted(((statistics.median(v), qi) for qi, v in per_query_p50.items()), reverse=True)[:5]
    print(json.dumps({
        "procs": procs, "queries_run": len(lat), "wall_s": round(wall, 2), "qps": round(len(lat) / wall, 1),
        "p50_ms": round(pct(ms, 50), 3), "p90_ms": round(pct(ms, 90), 3), "p99_ms": round(pct(ms, 99), 3),
        "max_ms": round(ms[-1], 3),
        "p50_ms_by_type": {t: round(statistics.median(v), 3) for t, v in sorted(by_type.items())},
        "slowest_queries_p50": [{"q": qs[qi]["q"], "tags": qs[qi].get("tags", []), "p50_ms": round(m, 2)}
                                for m, qi in slowest],
    }))


def counts(db, queries, out):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    with open(out, "w") as f:
        for i, q in enumerate(load_queries(queries)):
            e = to_fts(q)
            hits = len(con.execute(QUERY_SQL, (e,)).fetchall())
            total = con.execute("SELECT count(*) FROM docs WHERE docs MATCH ?", (e,)).fetchone()[0]
            f.write(json.dumps({"i": i, "q": q["q"], "tags": q.get("tags", []), "fts": e, "hits": min(hits, 20),
                                "total": total}) + "\n")


def main():
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    if a[0] == "build":
        build(a[1], a[2])
    elif a[0] == "run":
        seconds = float(a[a.index("--seconds") + 1]) if "--seconds" in a else 15.0
        procs = int(a[a.index("--procs") + 1]) if "--procs" in a else 1
        run(a[1], a[2], seconds, procs)
    elif a[0] == "counts":
        counts(a[1], a[2], a[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
