#!/usr/bin/python3
"""Latency of the insights endpoints on a loaded server: each request shape `--repeat` times,
sequentially (one analyst at a time is the realistic load), reporting p50/p90/max in ms.

usage: insights_bench.py --addr HOST:PORT --token TOKEN [--repeat 30] [--results FILE --n N]
"""
import argparse
import json
import statistics
import time

import requests

SHAPES = [
    ("summary, 365 days", "/v1/insights/summary", {"from": "2025-11-01", "to": "2026-10-31"}),
    ("summary, 30 days", "/v1/insights/summary", {"from": "2026-10-01", "to": "2026-10-31"}),
    ("summary, 365 days, tag=oracle", "/v1/insights/summary", {"from": "2025-11-01", "to": "2026-10-31", "tag": "oracle"}),
    ("summary, 365 days, region=EMEA", "/v1/insights/summary", {"from": "2025-11-01", "to": "2026-10-31", "region": "EMEA"}),
    ("summary CSV, 365 days", "/v1/insights/summary", {"from": "2025-11-01", "to": "2026-10-31", "_csv": "1"}),
    ("experts, 365 days", "/v1/insights/experts", {"from": "2025-11-01", "to": "2026-10-31"}),
    ("gaps, 365 days", "/v1/insights/gaps", {"from": "2025-11-01", "to": "2026-10-31"}),
    ("topics feature_request, 90 days", "/v1/insights/topics", {"from": "2026-08-03", "to": "2026-10-31", "kind": "feature_request"}),
    ("topics complaint, 30 days", "/v1/insights/topics", {"from": "2026-10-01", "to": "2026-10-31", "kind": "complaint"}),
    ("trending, 30 days", "/v1/insights/trending", {"from": "2026-10-01", "to": "2026-10-31"}),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--results")
    ap.add_argument("--n", type=int, default=0)
    a = ap.parse_args()
    s = requests.Session()
    s.trust_env = False
    s.headers["Authorization"] = f"Bearer {a.token}"
    rows = []
    for name, path, params in SHAPES:
        params = dict(params)
        headers = {"Accept": "text/csv"} if params.pop("_csv", None) else {}
        first = s.get(f"http://{a.addr}{path}", params=params, headers=headers, timeout=60)
        if first.status_code == 404:
            print(f"{name:40s} (endpoint not available)")
            continue
        first.raise_for_status()
        times = []
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            r = s.get(f"http://{a.addr}{path}", params=params, headers=headers, timeout=60)
            times.append((time.perf_counter() - t0) * 1000)
            r.raise_for_status()
        times.sort()
        p50 = statistics.median(times)
        p90 = times[min(len(times) - 1, int(0.9 * len(times)))]
        extra = ""
        if path.endswith("summary") and not headers:
            extra = f"threads={first.json()['threads']}"
        rows.append({"name": name, "p50_ms": round(p50, 1), "p90_ms": round(p90, 1), "max_ms": round(times[-1], 1)})
        print(f"{name:40s} p50 {p50:8.1f} ms  p90 {p90:8.1f} ms  max {times[-1]:8.1f} ms  {extra}")
    if a.results:
        with open(a.results, "a") as f:
            for row in rows:
                f.write(json.dumps(dict(row, n=a.n, kind="insights")) + "\n")


if __name__ == "__main__":
    main()
