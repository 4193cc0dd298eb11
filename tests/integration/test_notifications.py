"""Notification delivery end to end, with real components started here: a local HTTP
receiver (stdlib http.server in a thread) that records webhook calls and can be told to fail,
hang or recover, and a real SMTP sink (Debian's python3-aiosmtpd). The server is started with
STREETWISE_SMTP_URL pointing at the sink and a short retry schedule (STREETWISE_RETRY_BASE_MS).

Until expert routing produces notifications of its own, the trigger is the documented
thread.answered rule: an answer notifies the thread's author.
"""

import base64
import email
import email.policy
import hashlib
import hmac
import http.client
import json
import os
import re
import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from email.utils import parseaddr
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from support import (
    DEFAULT_BINARY, REPO_ROOT, Api, Org, ServerProcess, assert_problem, create_thread, get_thread,
    post_answer, unique, wait_until,
)

DELIVERY_TIMEOUT = 20.0


# --------------------------------------------------------------------------
# Real components
# --------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """Records every POST (path, headers, body, the status it answered). Per-path modes:
    ok (200), fail (500), hang (no answer until released)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.calls = []
        self.modes = {}
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                mode = receiver.modes.get(self.path, "ok")
                status = {"ok": 200, "fail": 500}.get(mode)
                with receiver.lock:
                    receiver.calls.append({
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                        "status": status,
                        "at": time.monotonic(),
                    })
                if mode == "hang":
                    receiver.release.wait(60)
                    self.close_connection = True
                    return
                payload = b"ok" if status == 200 else b"receiver told to fail"
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def calls_to(self, path):
        with self.lock:
            return [c for c in self.calls if c["path"] == path]

    def delivered_ids(self, path):
        return {c["headers"]["webhook-id"] for c in self.calls_to(path) if c["status"] == 200}

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


class SmtpSink:
    """aiosmtpd on a free loopback port. mode: ok | tempfail (451 at RCPT) | permfail (550)."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.lock = threading.Lock()
        self.messages = []
        self.mode = "ok"
        sink = self

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
                if sink.mode == "tempfail":
                    return "451 4.3.0 Try again later"
                if sink.mode == "permfail":
                    return "550 5.1.1 No such user"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):
                msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
                with sink.lock:
                    sink.messages.append({"rcpt": list(envelope.rcpt_tos), "from": envelope.mail_from,
                                          "msg": msg})
                return "250 Message accepted for delivery"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()
        self.url = f"smtp://127.0.0.1:{self.port}"

    def to(self, address):
        with self.lock:
            return [m["msg"] for m in self.messages if address in m["rcpt"]]

    def close(self):
        self.controller.stop()


class NotifyServer(ServerProcess):
    """ServerProcess started with extra STREETWISE_* settings in its environment."""

    def __init__(self, binary, data_dir, log_path, env):
        super().__init__(binary, data_dir, log_path)
        self.env = dict(env)

    def start(self):
        saved = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        try:
            return super().start()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def binary():
    path = Path(os.environ.get("STREETWISE_BIN") or DEFAULT_BINARY)
    return path if path.is_absolute() else REPO_ROOT / path


def server_env(smtp, **extra):
    env = {
        "STREETWISE_SMTP_URL": smtp.url,
        "STREETWISE_SMTP_FROM": "streetwise@notify.test",
        "STREETWISE_RETRY_BASE_MS": "100",
        "STREETWISE_WEBHOOK_TIMEOUT_SECONDS": "2",
        "STREETWISE_SSE_HEARTBEAT_SECONDS": "1",
        "STREETWISE_PUBLIC_BASE_URL": "http://links.notify.test",
    }
    env.update({f"STREETWISE_{k.upper()}": str(v) for k, v in extra.items()})
    return env


def launch(tmp_path_factory, name, env):
    data = tmp_path_factory.mktemp(f"{name}-data")
    return NotifyServer(binary(), data, data.parent / f"{data.name}.log", env).start()


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def smtp():
    s = SmtpSink()
    yield s
    s.close()


@pytest.fixture(scope="module")
def nserver(tmp_path_factory, smtp):
    srv = launch(tmp_path_factory, "notify", server_env(smtp))
    yield srv
    srv.stop()
    srv.kill()


@pytest.fixture(scope="module")
def nroot(nserver, spec):
    return Api(nserver, spec, nserver.root_token)


@pytest.fixture
def team(nroot):
    """A fresh org with alice (asks, has an e-mail address) and bob (an expert who answers)."""
    return make_team(nroot)


def make_team(root):
    org = Org(root)
    alice = add_user(org, "member", f"alice-{unique('a')}@example.com")
    bob = add_user(org, "expert", None)
    return org, alice, bob


def add_user(org, role, address):
    body = {"name": unique(role), "role": role}
    if address:
        body["email"] = address
    resp = org.admin.post("/v1/users", json=body)
    assert resp.status_code == 201, resp.text
    user = resp.json()
    tok = org.admin.post(f"/v1/users/{user['id']}/tokens", json={"name": "tests"})
    assert tok.status_code == 201, tok.text
    from support import Actor
    return Actor(org.admin.server, org.admin.spec, user, tok.json())


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

def settings(actor, **kw):
    body = {"email": True, "digest": False}
    body.update(kw)
    resp = actor.request("PUT", "/v1/me/notification-settings", json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()


def org_webhook(org, url, events=("thread.answered",), **kw):
    resp = org.admin.post("/v1/webhooks", json={"url": url, "events": list(events), **kw})
    assert resp.status_code == 201, resp.text
    return resp.json()


def inbox(actor, **params):
    resp = actor.get("/v1/me/notifications", params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()["items"]


def wait_inbox(actor, n, timeout=DELIVERY_TIMEOUT):
    return wait_until(lambda: (lambda items: items if len(items) >= n else None)(inbox(actor)),
                      timeout, f"{n} inbox item(s)")


def verify_standard_webhook(secret, headers, body, tolerance=300):
    """Standard Webhooks verification, written from the spec (not the server's code)."""
    msg_id = headers["webhook-id"]
    ts = headers["webhook-timestamp"]
    assert abs(time.time() - int(ts)) <= tolerance, "timestamp outside tolerance"
    key = base64.b64decode(secret[len("whsec_"):]) if secret.startswith("whsec_") else secret.encode()
    signed = f"{msg_id}.{ts}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for entry in headers["webhook-signature"].split():
        version, _, sig = entry.partition(",")
        if version == "v1" and hmac.compare_digest(sig, expected):
            return True
    return False


def text_part(msg):
    part = msg.get_body(preferencelist=("plain",))
    return part.get_content() if part else ""


def html_part(msg):
    part = msg.get_body(preferencelist=("html",))
    return part.get_content() if part else ""


def answer_link(text, server):
    """The /a/<token> link of a message, re-targeted at the test server."""
    m = re.search(r"https?://\S+?/a/([A-Za-z0-9_\-.]+)", text)
    assert m, f"no answer link in: {text[:500]}"
    return f"{server.base_url}/a/{m.group(1)}", m.group(1)


class SseReader:
    """Reads GET /v1/me/notifications/stream in a thread, collecting events and comments."""

    def __init__(self, server, token, last_event_id=None):
        host, port = server.base_url[len("http://"):].rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port), timeout=30)
        headers = {"Authorization": f"Bearer {token}"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self.conn.request("GET", "/v1/me/notifications/stream", headers=headers)
        self.resp = self.conn.getresponse()
        self.events, self.comments, self.lock = [], [], threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        event = {}
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    return
                line = line.decode().rstrip("\r\n")
                if line == "":
                    if event:
                        with self.lock:
                            self.events.append(event)
                    event = {}
                elif line.startswith(":"):
                    with self.lock:
                        self.comments.append(line)
                else:
                    field, _, value = line.partition(":")
                    event[field] = value[1:] if value.startswith(" ") else value
        except (OSError, http.client.HTTPException):
            return

    def notifications(self):
        with self.lock:
            return [e for e in self.events if e.get("event") == "notification"]

    def ids(self):
        return [int(e["id"]) for e in self.notifications()]

    def close(self):
        self.conn.close()


# --------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------

def test_an_answer_reaches_the_author_on_every_channel(nserver, team, receiver, smtp):
    org, alice, bob = team
    me_path, org_path = f"/{unique('me')}", f"/{unique('org')}"
    mine = settings(alice, webhook_url=receiver.url(me_path))
    assert mine["webhook_secret"].startswith("whsec_") and mine["email_available"] is True
    hook = org_webhook(org, receiver.url(org_path))
    stream = SseReader(nserver, alice.token)
    try:
        thread = create_thread(alice, title=unique("How do we price EMEA renewals"), tags=["pricing", "emea"])
        answer = post_answer(bob, thread["id"], "Use the **renewal** calculator.")

        item = wait_inbox(alice, 1)[0]
        assert item["type"] == "thread.answered" and item["thread_id"] == thread["id"]
        assert item["read_at"] is None and item["position"] == 1
        assert item["data"]["answer_id"] == answer["id"]
        assert item["data"]["title"] == thread["title"]
        nid = item["id"]

        # Live stream: the event id is the inbox position.
        wait_until(lambda: stream.ids() == [1], DELIVERY_TIMEOUT, "the SSE event")
        data = json.loads(stream.notifications()[0]["data"])
        assert data["id"] == nid

        # Personal webhook: signed with the user's secret, webhook-id = notification id.
        call = wait_until(lambda: receiver.calls_to(me_path), DELIVERY_TIMEOUT, "the personal webhook")[0]
        assert call["headers"]["webhook-id"] == nid
        assert verify_standard_webhook(mine["webhook_secret"], call["headers"], call["body"])
        body = json.loads(call["body"])
        assert body["type"] == "thread.answered"
        assert body["data"]["thread_id"] == thread["id"]
        assert body["data"]["answer_url"].startswith("http://links.notify.test/a/")

        # Org webhook: signed with the org secret, no personal answer link.
        call = wait_until(lambda: receiver.calls_to(org_path), DELIVERY_TIMEOUT, "the org webhook")[0]
        assert call["headers"]["webhook-id"] == nid
        assert verify_standard_webhook(hook["secret"], call["headers"], call["body"])
        assert not verify_standard_webhook(mine["webhook_secret"], call["headers"], call["body"])
        assert "answer_url" not in json.loads(call["body"])["data"]

        # E-mail: multipart/alternative, stable Message-ID, auto-generated, with the answer link.
        msg = wait_until(lambda: smtp.to(alice.user["email"]), DELIVERY_TIMEOUT, "the e-mail")[0]
        assert msg["Message-ID"] == f"<notif-{nid}@notify.test>"
        assert msg["Auto-Submitted"] == "auto-generated"
        assert parseaddr(msg["From"])[1] == "streetwise@notify.test"
        assert thread["title"] in msg["Subject"]
        assert msg.get_content_type() in ("multipart/mixed", "multipart/alternative")
        text, html = text_part(msg), html_part(msg)
        for part in (text, html):
            assert thread["title"] in part
            assert "pricing" in part and "emea" in part
            assert "/a/" in part
        assert '<html lang="en">' in html

        # The delivery log shows the org delivery as delivered (recorded just after the 2xx).
        def logged():
            resp = org.admin.get(f"/v1/webhooks/{hook['id']}/deliveries")
            assert resp.status_code == 200
            items = resp.json()["items"]
            return items[0] if items and items[0]["status"] == "delivered" else None
        d = wait_until(logged, DELIVERY_TIMEOUT, "the delivery log")
        assert d["id"] == nid and d["attempt_count"] == 1
        assert d["attempts"][0]["status_code"] == 200

        # Read.
        resp = alice.post(f"/v1/me/notifications/{nid}/read")
        assert resp.status_code == 200 and resp.json()["read_at"]
        assert inbox(alice, unread="true") == []
        assert len(inbox(alice, unread="false")) == 1
        assert inbox(bob) == []
        assert_problem(bob.post(f"/v1/me/notifications/{nid}/read"), 404, "not-found")
    finally:
        stream.close()


def test_a_failing_receiver_gets_retries_with_the_same_id_until_it_recovers(team, receiver):
    org, alice, bob = team
    path = f"/{unique('flaky')}"
    receiver.modes[path] = "fail"
    hook = org_webhook(org, receiver.url(path))
    thread = create_thread(alice)
    post_answer(bob, thread["id"])
    calls = wait_until(lambda: (lambda c: c if len(c) >= 3 else None)(receiver.calls_to(path)),
                       DELIVERY_TIMEOUT, "three failed attempts")
    receiver.modes[path] = "ok"
    wait_until(lambda: receiver.delivered_ids(path), DELIVERY_TIMEOUT, "a successful attempt")
    calls = receiver.calls_to(path)
    ids = {c["headers"]["webhook-id"] for c in calls}
    assert len(ids) == 1, "the webhook-id changed between retries"
    stamps = [int(c["headers"]["webhook-timestamp"]) for c in calls]
    assert stamps == sorted(stamps)
    gaps = [b["at"] - a["at"] for a, b in zip(calls, calls[1:])]
    assert gaps[0] >= 0.07 and gaps[1] >= 0.4, f"backoff too short: {gaps}"  # 100 ms, 600 ms (+-20 %)
    for c in calls:
        assert verify_standard_webhook(hook["secret"], c["headers"], c["body"])

    def delivered():
        d = org.admin.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["items"][0]
        return d if d["status"] == "delivered" else None
    d = wait_until(delivered, DELIVERY_TIMEOUT, "status delivered")
    assert d["attempt_count"] == len(calls)
    outcomes = [a["outcome"] for a in d["attempts"]]
    assert outcomes == ["retry"] * (len(calls) - 1) + ["delivered"]
    assert [a["status_code"] for a in d["attempts"][:-1]] == [500] * (len(calls) - 1)


METRIC_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? (\S+)$')


def delivery_metrics(server):
    """{(family, channel or None): value} for the delivery series of GET /metrics."""
    resp = requests.get(server.base_url + "/metrics", timeout=10)
    assert resp.status_code == 200
    out = {}
    for line in resp.text.splitlines():
        m = METRIC_LINE.match(line)
        if not m or not (m.group(1).startswith("streetwise_delivery_") or m.group(1) == "streetwise_outbox_depth"):
            continue
        channel = re.search(r'channel="([^"]*)"', m.group(2) or "")
        out[(m.group(1), channel.group(1) if channel else None)] = float(m.group(3))
    return out


def test_delivery_metrics_count_attempts_and_failures_per_channel(nserver, team, receiver):
    org, alice, bob = team
    path = f"/{unique('metered')}"
    receiver.modes[path] = "fail"
    org_webhook(org, receiver.url(path))
    attempts, failures = ("streetwise_delivery_attempts_total", "org_webhook"), \
        ("streetwise_delivery_failures_total", "org_webhook")
    before = delivery_metrics(nserver)
    for channel in ("email", "user_webhook", "org_webhook", "digest"):
        assert ("streetwise_delivery_attempts_total", channel) in before, before
        assert ("streetwise_delivery_failures_total", channel) in before, before
    assert ("streetwise_outbox_depth", None) in before, before

    thread = create_thread(alice)
    post_answer(bob, thread["id"])
    wait_until(lambda: receiver.calls_to(path), DELIVERY_TIMEOUT, "a failed attempt")
    # While the receiver fails, the delivery waits in the outbox for its retry (the depth is
    # counted every few seconds).
    wait_until(lambda: delivery_metrics(nserver)[("streetwise_outbox_depth", None)] >= 1, DELIVERY_TIMEOUT,
               "the outbox depth to count the retrying delivery")
    receiver.modes[path] = "ok"
    wait_until(lambda: receiver.delivered_ids(path), DELIVERY_TIMEOUT, "a successful attempt")
    calls = receiver.calls_to(path)
    failed = sum(1 for c in calls if c["status"] != 200)
    assert failed >= 1 and len(calls) == failed + 1

    # Outcomes are counted when the committer records them, just after the receiver answered.
    # Other tests' deliveries may still be running on this server, so the counters grow by at
    # least this test's attempts.
    def counted():
        now = delivery_metrics(nserver)
        grew = now[attempts] - before[attempts] >= len(calls) and now[failures] - before[failures] >= failed
        return now if grew else None
    after = wait_until(counted, DELIVERY_TIMEOUT, "the attempts to be counted")
    for key in before:
        if key[0] != "streetwise_outbox_depth":
            assert after[key] >= before[key], f"{key} decreased"


def test_a_hung_receiver_delays_nobody_else(nserver, team, receiver):
    org, alice, bob = team
    stuck, healthy = f"/{unique('stuck')}", f"/{unique('healthy')}"
    receiver.modes[stuck] = "hang"
    org_webhook(org, receiver.url(stuck))
    org_webhook(org, receiver.url(healthy))
    thread = create_thread(alice)
    t0 = time.monotonic()
    post_answer(bob, thread["id"])
    wait_until(lambda: receiver.calls_to(stuck), DELIVERY_TIMEOUT, "the hung receiver's first call")
    wait_until(lambda: receiver.delivered_ids(healthy), DELIVERY_TIMEOUT, "the healthy receiver")
    assert time.monotonic() - t0 < 2.0, "the healthy receiver waited for the hung one"
    # The API answers promptly while the attempt hangs.
    t1 = time.monotonic()
    assert alice.get("/v1/me/notifications").status_code == 200
    assert time.monotonic() - t1 < 0.5
    # The hung attempt times out (2 s) and is retried; once the receiver answers it is delivered.
    receiver.modes[stuck] = "ok"
    wait_until(lambda: receiver.delivered_ids(stuck), DELIVERY_TIMEOUT, "delivery after the hang")
    assert len({c["headers"]["webhook-id"] for c in receiver.calls_to(stuck)}) == 1


def test_sse_resumes_from_last_event_id_without_loss(nserver, team):
    org, alice, bob = team
    thread = create_thread(alice)
    for i in range(3):
        post_answer(bob, thread["id"], f"answer {i}")
    wait_inbox(alice, 3)
    first = SseReader(nserver, alice.token, last_event_id=0)
    second = SseReader(nserver, alice.token, last_event_id=2)
    live = SseReader(nserver, alice.token)  # no Last-Event-ID: only what comes next
    try:
        wait_until(lambda: first.ids() == [1, 2, 3], DELIVERY_TIMEOUT, "replay from 0")
        wait_until(lambda: second.ids() == [3], DELIVERY_TIMEOUT, "replay from 2")
        post_answer(bob, thread["id"], "answer 4")
        wait_until(lambda: live.ids() == [4], DELIVERY_TIMEOUT, "the live event")
        wait_until(lambda: first.ids() == [1, 2, 3, 4], DELIVERY_TIMEOUT, "the live event on a replayed stream")
        wait_until(lambda: any("keepalive" in c for c in live.comments), 5, "a heartbeat comment")
        assert live.resp.getheader("X-Accel-Buffering") == "no"
        assert live.resp.getheader("Content-Type").startswith("text/event-stream")
    finally:
        for s in (first, second, live):
            s.close()
    resp = alice.get("/v1/me/notifications/stream", headers={"Last-Event-ID": "x"})
    assert_problem(resp, 400, "malformed-request")


def test_quiet_hours_hold_webhooks_but_urgent_threads_break_through(team, receiver):
    org, alice, bob = team
    path = f"/{unique('quiet')}"
    now = datetime.now(timezone.utc)
    start, end = (now - timedelta(hours=1)).strftime("%H:%M"), (now + timedelta(hours=2)).strftime("%H:%M")
    s = settings(alice, webhook_url=receiver.url(path), quiet_hours={"start": start, "end": end},
                 timezone="UTC", email=False)
    assert s["quiet_hours"] == {"start": start, "end": end} and s["effective_timezone"] == "UTC"
    calm = create_thread(alice)
    post_answer(bob, calm["id"])
    held = wait_inbox(alice, 1)[0]  # the inbox is never held
    urgent = create_thread(alice, needed_by=now.strftime("%Y-%m-%d"))
    post_answer(bob, urgent["id"])
    wait_until(lambda: receiver.calls_to(path), DELIVERY_TIMEOUT, "the urgent notification")
    items = inbox(alice)
    urgent_item = next(i for i in items if i["thread_id"] == urgent["id"])
    assert urgent_item["urgent"] is True
    ids = [c["headers"]["webhook-id"] for c in receiver.calls_to(path)]
    assert ids == [urgent_item["id"]], "a non-urgent notification was sent during quiet hours"
    assert held["id"] not in ids


def test_the_digest_holds_non_urgent_email(team, smtp):
    org, alice, bob = team
    settings(alice, digest=True)
    calm = create_thread(alice)
    post_answer(bob, calm["id"])
    wait_inbox(alice, 1)
    urgent = create_thread(alice, needed_by=datetime.now(timezone.utc).strftime("%Y-%m-%d"))
    post_answer(bob, urgent["id"])
    def instant():
        return [m for m in smtp.to(alice.user["email"]) if m["X-Streetwise-Notification-Type"] != "digest"]
    msgs = wait_until(instant, DELIVERY_TIMEOUT, "the urgent e-mail")
    assert len(msgs) == 1
    urgent_id = next(i["id"] for i in inbox(alice) if i["thread_id"] == urgent["id"])
    assert msgs[0]["X-Streetwise-Notification-Id"] == urgent_id


def test_answer_links_post_answers_and_refuse_bad_tokens(nserver, team, smtp):
    org, alice, bob = team
    thread = create_thread(alice, title=unique("Discount approval <for> EMEA"))
    post_answer(bob, thread["id"], "Ask your RVP.")
    msg = wait_until(lambda: smtp.to(alice.user["email"]), DELIVERY_TIMEOUT, "the e-mail")[0]
    link, token = answer_link(text_part(msg), nserver)
    web = requests.Session()
    web.trust_env = False

    page = web.get(link, timeout=10)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    html = page.text
    assert '<html lang="en">' in html and "<main>" in html
    assert "Discount approval &lt;for&gt; EMEA" in html and "<for>" not in html
    assert "Ask your RVP." in html
    assert '<label for="answer-body">' in html and 'name="body"' in html
    assert token not in nserver.log_tail(200), "the answer-link token was logged"
    head = web.head(link, timeout=10)
    assert head.status_code == 200 and not head.content
    assert len(get_thread(alice, thread["id"])[0]["answers"]) == 1, "GET or HEAD posted something"

    form = {"body": "Follow-up: does this apply to *renewals*?"}
    posted = web.post(link, data=form, timeout=10)
    assert posted.status_code == 201, posted.text[:500]
    assert "your answer was posted" in posted.text
    again = web.post(link, data=form, timeout=10)  # a double submit
    assert again.status_code == 201
    answers = get_thread(alice, thread["id"])[0]["answers"]
    assert [a["author_id"] for a in answers] == [bob.id, alice.id]
    assert answers[1]["body"] == form["body"]

    empty = web.post(link, data={"body": "   "}, timeout=10)
    assert empty.status_code == 422 and 'role="alert"' in empty.text
    assert web.post(link, json={"body": "x"}, timeout=10).status_code == 415

    payload, _, sig = token.partition(".")
    tampered = f"{nserver.base_url}/a/{payload}.{'B' if sig[0] != 'B' else 'C'}{sig[1:]}"
    bad = web.get(tampered, timeout=10)
    assert bad.status_code == 403 and "not valid" in bad.text
    assert web.post(tampered, data=form, timeout=10).status_code == 403
    assert web.get(f"{nserver.base_url}/a/not-a-token", timeout=10).status_code == 400
    assert len(get_thread(alice, thread["id"])[0]["answers"]) == 2

    # Revoking one of the user's tokens revokes the links issued before it.
    assert org.admin.delete(f"/v1/tokens/{alice.token_id}").status_code == 204
    revoked = web.get(link, timeout=10)
    assert revoked.status_code == 403 and "revoked" in revoked.text
    assert web.post(link, data={"body": "late"}, timeout=10).status_code == 403


def test_settings_and_webhooks_validate_their_input(team, nroot):
    org, alice, bob = team
    bad = alice.request("PUT", "/v1/me/notification-settings",
                        json={"email": True, "digest": False, "webhook_url": "ftp://example.com/x"})
    assert_problem(bad, 422, "validation")
    bad = alice.request("PUT", "/v1/me/notification-settings",
                        json={"email": True, "digest": False, "timezone": "Mars/Olympus"})
    assert_problem(bad, 422, "validation")
    bad = alice.request("PUT", "/v1/me/notification-settings",
                        json={"email": True, "digest": False, "quiet_hours": {"start": "25:00", "end": "07:00"}})
    assert_problem(bad, 422, "validation")
    assert_problem(alice.request("PUT", "/v1/me/notification-settings", json={"email": True}), 422, "validation")
    defaults = alice.get("/v1/me/notification-settings").json()
    assert defaults["email"] is True and defaults["updated_at"] is None and defaults["webhook_url"] is None

    assert_problem(alice.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/x", "events": ["thread.answered"]}),
                   403, "forbidden")
    assert_problem(org.admin.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/x", "events": ["no.such"]}),
                   422, "validation")
    assert_problem(org.admin.post("/v1/webhooks", json={"url": "gopher://x", "events": ["thread.answered"]}),
                   422, "validation")
    hook = org_webhook(org, "http://127.0.0.1:9/x", secret="a-long-enough-secret", format="slack")
    assert hook["secret"] == "a-long-enough-secret" and hook["format"] == "slack"
    listed = org.admin.get("/v1/webhooks").json()["items"]
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]

    other, _, _ = make_team(nroot)
    assert_problem(other.admin.get(f"/v1/webhooks/{hook['id']}/deliveries"), 404, "not-found")
    assert_problem(other.admin.delete(f"/v1/webhooks/{hook['id']}"), 404, "not-found")
    assert org.admin.delete(f"/v1/webhooks/{hook['id']}").status_code == 204
    assert_problem(org.admin.delete(f"/v1/webhooks/{hook['id']}"), 404, "not-found")


def test_slack_format_body(team, receiver):
    org, alice, bob = team
    path = f"/{unique('slack')}"
    settings(alice, webhook_url=receiver.url(path), webhook_format="slack", email=False)
    thread = create_thread(alice, title=unique("Pricing <b>&</b> terms"))
    post_answer(bob, thread["id"])
    call = wait_until(lambda: receiver.calls_to(path), DELIVERY_TIMEOUT, "the Slack-format call")[0]
    body = json.loads(call["body"])
    assert set(body) == {"text", "blocks"}
    assert "/a/" in body["text"]
    section = body["blocks"][1]["text"]["text"]
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in section
    assert body["blocks"][-1]["elements"][0]["url"].startswith("http://links.notify.test/a/")
    assert "webhook-signature" in call["headers"]


def test_dead_letters_and_manual_redelivery(tmp_path_factory, smtp, receiver, spec):
    srv = launch(tmp_path_factory, "dead", server_env(smtp, retry_base_ms=50, retry_max_attempts=3))
    try:
        org, alice, bob = make_team(Api(srv, spec, srv.root_token))
        path = f"/{unique('dead')}"
        receiver.modes[path] = "fail"
        hook = org_webhook(org, receiver.url(path))
        thread = create_thread(alice)
        post_answer(bob, thread["id"])

        def dead():
            items = org.admin.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["items"]
            return items[0] if items and items[0]["status"] == "dead" else None
        d = wait_until(dead, DELIVERY_TIMEOUT, "the delivery parked as dead")
        assert d["attempt_count"] == 3 and len(receiver.calls_to(path)) == 3
        assert d["last_status_code"] == 500 and "500" in d["last_error"]
        assert [a["outcome"] for a in d["attempts"]] == ["retry", "retry", "dead"]

        receiver.modes[path] = "ok"
        resp = org.admin.post(f"/v1/webhooks/{hook['id']}/deliveries/{d['id']}/redeliver")
        assert resp.status_code == 202, resp.text
        assert resp.json()["status"] == "pending"
        wait_until(lambda: receiver.delivered_ids(path) == {d["id"]}, DELIVERY_TIMEOUT, "the redelivery")

        def delivered():
            items = org.admin.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["items"]
            return items[0] if items[0]["status"] == "delivered" else None
        d2 = wait_until(delivered, DELIVERY_TIMEOUT, "status delivered")
        assert d2["attempt_count"] == 4 and d2["attempts"][-1]["attempt"] == 4
        assert_problem(org.admin.post(f"/v1/webhooks/{hook['id']}/deliveries/nope/redeliver"), 404, "not-found")
    finally:
        srv.stop()
        srv.kill()


def test_kill_9_with_undelivered_notifications_loses_none(tmp_path_factory, smtp, receiver, spec):
    """kill -9 while deliveries are failing; after a restart every notification reaches every
    channel. Receivers de-duplicate by webhook-id / Message-ID: at least once, exactly once
    after de-duplication, none lost."""
    n = 12
    srv = launch(tmp_path_factory, "crash", server_env(smtp))
    try:
        root = Api(srv, spec, srv.root_token)
        org, alice, bob = make_team(root)
        org_path, me_path = f"/{unique('crash-org')}", f"/{unique('crash-me')}"
        receiver.modes[org_path] = "fail"
        receiver.modes[me_path] = "fail"
        smtp.mode = "tempfail"
        org_webhook(org, receiver.url(org_path))
        settings(alice, webhook_url=receiver.url(me_path))
        thread = create_thread(alice)
        for i in range(n):
            post_answer(bob, thread["id"], f"answer {i}")
        wait_until(lambda: len(receiver.calls_to(org_path)) >= n, DELIVERY_TIMEOUT, "first attempts")
        srv.kill()

        receiver.modes[org_path] = "ok"
        receiver.modes[me_path] = "ok"
        smtp.mode = "ok"
        srv.start()
        items = wait_until(lambda: (lambda it: it if len(it) == n else None)(inbox_all(alice)),
                           DELIVERY_TIMEOUT, f"{n} inbox items")
        expected = {i["id"] for i in items}
        assert len(expected) == n, "duplicate inbox items"
        wait_until(lambda: receiver.delivered_ids(org_path) == expected, 30, "every org webhook delivery")
        wait_until(lambda: receiver.delivered_ids(me_path) == expected, 30, "every personal webhook delivery")
        address = alice.user["email"]

        def mail_ids():
            return {m["X-Streetwise-Notification-Id"] for m in smtp.to(address)}
        wait_until(lambda: mail_ids() == expected, 30, "every e-mail")
        # Message-IDs are stable per notification, so a mail client would collapse duplicates.
        for m in smtp.to(address):
            assert m["Message-ID"] == f"<notif-{m['X-Streetwise-Notification-Id']}@notify.test>"
        duplicates = sum(1 for c in receiver.calls_to(org_path) if c["status"] == 200) - n
        print(f"kill -9: {n} notifications, {duplicates} duplicate org deliveries after restart")
    finally:
        receiver.modes.clear()
        smtp.mode = "ok"
        srv.stop()
        srv.kill()


def test_lowering_the_link_ttl_expires_links_already_sent(tmp_path_factory, smtp, spec):
    srv = launch(tmp_path_factory, "ttl", server_env(smtp))
    try:
        org, alice, bob = make_team(Api(srv, spec, srv.root_token))
        thread = create_thread(alice)
        post_answer(bob, thread["id"])
        msg = wait_until(lambda: smtp.to(alice.user["email"]), DELIVERY_TIMEOUT, "the e-mail")[0]
        link, _ = answer_link(text_part(msg), srv)
        web = requests.Session()
        web.trust_env = False
        assert web.get(link, timeout=10).status_code == 200
        srv.stop()
        srv.env["STREETWISE_ANSWER_LINK_TTL_HOURS"] = "0"
        srv.start()
        link = f"{srv.base_url}/a/{link.rsplit('/a/', 1)[1]}"
        expired = web.get(link, timeout=10)
        assert expired.status_code == 410 and "expired" in expired.text
        assert web.post(link, data={"body": "too late"}, timeout=10).status_code == 410
        assert len(get_thread(Api(srv, spec, alice.token), thread["id"])[0]["answers"]) == 1
    finally:
        srv.stop()
        srv.kill()


def inbox_all(actor):
    out, params = [], {"limit": 100}
    while True:
        page = actor.get("/v1/me/notifications", params=params).json()
        out.extend(page["items"])
        if not page["next_cursor"]:
            return out
        params["cursor"] = page["next_cursor"]
