#!/usr/bin/python3
"""Notification delivery benchmark (stdlib only), driven by bench/notify_bench.sh.

  notify_bench.py ADDR ADMIN_TOKEN [--rate 200] [--seconds 15] [--out results.json]

Against a running server (default org, admin token) it creates an asker, an answerer and a few
threads, starts a local webhook receiver in this process, and runs open-loop load (requests are
sent on a fixed schedule whatever the latency, so a slow server cannot hide behind a slow client):

  steady     POST /v1/threads/{id}/answers at RATE/s; one org webhook (thread.answered) on a
             healthy receiver. Figures: POST -> webhook arrival (p50/p99/max), API latency.
  down       the same load with a second webhook whose receiver is down (connection refused):
             API latency, and the healthy receiver's delivery latency (a dead endpoint must not
             delay the others).
  hung       the same with a receiver that accepts and never answers (every attempt runs into the
             webhook timeout).
  questions  (if expert routing is available) POST /v1/threads at a low rate with an expert for
             the tag: POST -> assignment.created webhook arrival.

Every phase answers its own fresh threads (--threads of them): a thread is stored as one
aggregate, so piling thousands of answers onto the same few threads would slow the later phases
for reasons that have nothing to do with notifications.

Receivers run in a child process (their own interpreter lock), so a busy load generator does not
delay the recording of arrivals. Clocks: send and arrival times are both CLOCK_MONOTONIC
(time.monotonic(), system-wide on Linux).
"""
import argparse
import http.client
import json
import multiprocessing
import socket
import statistics
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def pct(values, p):
    if not values:
        return None
    values = sorted(values)
    k = max(0, min(len(values) - 1, int(round(p / 100.0 * len(values) + 0.5)) - 1))
    return values[k]


def ms(v):
    return None if v is None else round(v * 1000.0, 2)


def _serve(mode, port_q, arrivals_q, stop):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            t = time.monotonic()
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if mode == "hang":
                stop.wait(120)
                self.close_connection = True
                return
            try:
                data = json.loads(body)["data"]
                key = data.get("answer_id") or data.get("thread_id")
            except (ValueError, KeyError):
                key = None
            arrivals_q.put((key, t))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    port_q.put(httpd.server_address[1])
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    stop.wait()


class Receiver:
    """A webhook receiver in a child process; arrival time per answer (or thread) id.
    mode: ok | hang (accepts, never answers)."""

    def __init__(self, mode="ok"):
        ctx = multiprocessing.get_context("fork")
        port_q, self.queue, self.stop = ctx.Queue(), ctx.Queue(), ctx.Event()
        self.proc = ctx.Process(target=_serve, args=(mode, port_q, self.queue, self.stop), daemon=True)
        self.proc.start()
        self.port = port_q.get(timeout=10)
        self.arrivals = {}
        self.duplicates = 0

    def drain(self):
        while True:
            try:
                key, t = self.queue.get_nowait()
            except Exception:  # noqa: BLE001 - queue.Empty
                return
            if key in self.arrivals:
                self.duplicates += 1
            else:
                self.arrivals[key] = t

    def url(self):
        return f"http://127.0.0.1:{self.port}/hook"

    def close(self):
        self.stop.set()
        self.proc.join(5)


class Client:
    def __init__(self, addr, token):
        self.host, port = addr.rsplit(":", 1)
        self.port = int(port)
        self.token = token
        self.local = threading.local()

    def conn(self):
        c = getattr(self.local, "c", None)
        if c is None:
            c = self.local.c = http.client.HTTPConnection(self.host, self.port, timeout=60)
        return c

    def call(self, method, path, body=None):
        headers = {"Authorization": f"Bearer {self.token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in range(2):
            try:
                c = self.conn()
                c.request(method, path, body=data, headers=headers)
                r = c.getresponse()
                raw = r.read()
                return r.status, (json.loads(raw) if raw else None)
            except (http.client.HTTPException, OSError):
                self.local.c = None
                if attempt:
                    raise


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def setup(admin):
    def user(role):
        st, u = admin.call("POST", "/v1/users", {"name": f"bench-{role}-{uuid.uuid4().hex[:6]}", "role": role})
        assert st == 201, u
        st, t = admin.call("POST", f"/v1/users/{u['id']}/tokens", {"name": "bench"})
        assert st == 201, t
        return u, t["token"]
    asker, asker_token = user("member")
    expert, expert_token = user("expert")
    return asker, asker_token, expert, expert_token


def make_threads(client, n, tag):
    ids = []
    for i in range(n):
        st, t = client.call("POST", "/v1/threads", {"title": f"Benchmark question {i} {uuid.uuid4().hex[:6]}",
                                                    "body": "How do we price this?", "tags": [tag]})
        assert st == 201, t
        ids.append(t["id"])
    return ids


def open_loop(rate, seconds, fire, workers=48):
    """Calls fire(i) at rate/s for `seconds` from a pool; returns [(i, t_send, t_done, status, key)]."""
    results, lock = [], threading.Lock()
    n = int(rate * seconds)
    t0 = time.monotonic() + 0.2

    def run(i):
        t_send = time.monotonic()
        try:
            status, key = fire(i)
        except Exception as e:  # noqa: BLE001 - a failed request is a data point
            status, key = f"error: {e}", None
        with lock:
            results.append((i, t_send, time.monotonic(), status, key))

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for i in range(n):
            due = t0 + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(run, i)
    return results


def summarize(name, results, receiver, wait_seconds=60):
    ok = [r for r in results if r[3] == 201]
    keys = {r[4]: r for r in ok}
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        receiver.drain()
        if all(k in receiver.arrivals for k in keys):
            break
        time.sleep(0.05)
    receiver.drain()
    arrivals = dict(receiver.arrivals)
    dups = receiver.duplicates
    lat_send = [arrivals[k] - r[1] for k, r in keys.items() if k in arrivals]
    lat_done = [arrivals[k] - r[2] for k, r in keys.items() if k in arrivals]
    api = [r[2] - r[1] for r in results]
    span = max(r[1] for r in results) - min(r[1] for r in results) if results else 0
    out = {
        "phase": name,
        "requests": len(results),
        "achieved_rate": round(len(results) / span, 1) if span else None,
        "non_201": len(results) - len(ok),
        "delivered": len(lat_send),
        "lost": len(keys) - len(lat_send),
        "duplicates": dups,
        "api_p50_ms": ms(pct(api, 50)), "api_p99_ms": ms(pct(api, 99)), "api_max_ms": ms(max(api) if api else None),
        "deliver_p50_ms": ms(pct(lat_send, 50)), "deliver_p99_ms": ms(pct(lat_send, 99)),
        "deliver_max_ms": ms(max(lat_send) if lat_send else None),
        "after_201_p50_ms": ms(pct(lat_done, 50)), "after_201_p99_ms": ms(pct(lat_done, 99)),
    }
    print(json.dumps(out), flush=True)
    return out


def answers_phase(name, asker, answerer, n_threads, rate, seconds, receiver):
    asker_threads = make_threads(asker, n_threads, "benchmark")

    def fire(i):
        st, a = answerer.call("POST", f"/v1/threads/{asker_threads[i % len(asker_threads)]}/answers",
                              {"body": f"Answer {i}: use the renewal price book."})
        return st, (a or {}).get("id")
    return summarize(name, open_loop(rate, seconds, fire), receiver)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("addr")
    ap.add_argument("admin_token")
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--question-rate", type=float, default=5)
    ap.add_argument("--threads", type=int, default=32)
    ap.add_argument("--out")
    args = ap.parse_args()

    admin = Client(args.addr, args.admin_token)
    asker, asker_token, expert, expert_token = setup(admin)
    asker_c, expert_c = Client(args.addr, asker_token), Client(args.addr, expert_token)
    healthy = Receiver()
    st, hook = admin.call("POST", "/v1/webhooks", {"url": healthy.url(), "events": ["thread.answered"]})
    assert st == 201, hook
    results = [answers_phase("steady", asker_c, expert_c, args.threads, args.rate, args.seconds, healthy)]

    st, down = admin.call("POST", "/v1/webhooks", {"url": f"http://127.0.0.1:{closed_port()}/hook",
                                                   "events": ["thread.answered"]})
    assert st == 201, down
    results.append(answers_phase("down", asker_c, expert_c, args.threads, args.rate, args.seconds, healthy))
    admin.call("DELETE", f"/v1/webhooks/{down['id']}")

    hung = Receiver(mode="hang")
    st, stuck = admin.call("POST", "/v1/webhooks", {"url": hung.url(), "events": ["thread.answered"]})
    assert st == 201, stuck
    results.append(answers_phase("hung", asker_c, expert_c, args.threads, args.rate, args.seconds, healthy))
    admin.call("DELETE", f"/v1/webhooks/{stuck['id']}")
    hung.close()

    # Expert routing (when the server has it): a question tagged for the expert -> assignment.created.
    st, err = expert_c.call("PUT", f"/v1/users/{expert['id']}/expertise",
                            {"tags": [{"tag": "routed", "level": 5}], "timezone": "UTC", "max_open": 1000,
                           "working_hours": {"start": "00:00", "end": "23:59",
                                             "days": ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]}})
    if st == 200:
        routed = Receiver()
        st, hook2 = admin.call("POST", "/v1/webhooks", {"url": routed.url(), "events": ["assignment.created"]})
        assert st == 201, hook2

        def fire(i):
            s, t = asker_c.call("POST", "/v1/threads", {"title": f"Routed question {i} {uuid.uuid4().hex[:6]}",
                                                         "body": "Who knows?", "tags": ["routed"]})
            return s, (t or {}).get("id")
        results.append(summarize("questions", open_loop(args.question_rate, args.seconds, fire), routed))
        routed.close()
    else:
        print(json.dumps({"phase": "questions", "skipped": f"PUT expertise answered {st}: {err}"}), flush=True)
    healthy.close()
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
