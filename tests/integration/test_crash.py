"""Durability: kill -9 under write load loses no acknowledged write; SIGTERM
stops cleanly with exit code 0."""

import hashlib
import random
import threading
import time

import requests

from support import Api, create_thread, get_thread, list_all, new_thread_body, wait_until

MIN_CYCLES = 20      # always at least this many kill -9 cycles
MAX_CYCLES = 100     # and more while the time budget lasts
TIME_BUDGET = 30.0   # seconds of kill/restart cycling
WRITERS = 4
ANSWER_RATIO = 0.25


def digest(text):
    return hashlib.sha256(text.encode()).hexdigest()


class WriteLoad:
    """Writer threads that POST threads (and some answers) continuously and
    remember every write the server acknowledged with a 2xx."""

    def __init__(self, server, spec):
        self.server, self.spec = server, spec
        self.lock = threading.Lock()
        self.threads = {}   # id -> (title, body digest, tags)
        self.answers = {}   # id -> (thread id, body digest)
        self.errors = []
        self.up = threading.Event()
        self.done = threading.Event()
        self.workers = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(WRITERS)]

    def acked(self):
        with self.lock:
            return len(self.threads) + len(self.answers)

    def snapshot(self):
        with self.lock:
            return dict(self.threads), dict(self.answers)

    def start(self):
        for worker in self.workers:
            worker.start()

    def stop(self):
        self.done.set()
        self.up.set()
        for worker in self.workers:
            worker.join(timeout=30)

    def _record(self, table, key, value):
        with self.lock:
            if key in table and table[key] != value:
                self.errors.append(f"id {key} acknowledged twice for different writes")
            table[key] = value

    def _run(self, index):
        api = Api(self.server, self.spec, self.server.admin_token)
        rng = random.Random(index)
        mine, n = [], 0
        while not self.done.is_set():
            self.up.wait()
            n += 1
            try:
                if mine and rng.random() < ANSWER_RATIO:
                    thread_id = rng.choice(mine)
                    body = f"answer {index}-{n} " + "y" * rng.randint(10, 4000)
                    resp = api.post(f"/v1/threads/{thread_id}/answers", json={"body": body},
                                    timeout=5)
                    if resp.status_code == 201:
                        self._record(self.answers, resp.json()["id"], (thread_id, digest(body)))
                        continue
                else:
                    sent = new_thread_body(title=f"crash {index}-{n} {rng.random()}",
                                           body="x" * rng.randint(200, 20000),
                                           tags=[f"writer-{index}"])
                    resp = api.post("/v1/threads", json=sent, timeout=5)
                    if resp.status_code == 201:
                        thread_id = resp.json()["id"]
                        mine.append(thread_id)
                        self._record(self.threads, thread_id,
                                     (sent["title"], digest(sent["body"]), sent["tags"]))
                        continue
            except requests.RequestException:
                continue  # the server is down or died mid-request: not acknowledged
            except AssertionError as exc:  # response failed validation
                self.errors.append(str(exc))
                continue
            if resp.status_code != 503:
                self.errors.append(f"unexpected {resp.status_code}: {resp.text[:300]}")


def verify(api, threads, answers):
    """Every acknowledged thread and answer is present and unchanged."""
    by_thread = {}
    for thread_id, (title, body_digest, tags) in threads.items():
        thread, _ = get_thread(api, thread_id)
        assert (thread["title"], digest(thread["body"]), thread["tags"]) == (
            title, body_digest, tags), f"thread {thread_id} changed after crash"
        by_thread[thread_id] = {a["id"]: digest(a["body"]) for a in thread["answers"]}
    for answer_id, (thread_id, body_digest) in answers.items():
        if thread_id not in by_thread:
            thread, _ = get_thread(api, thread_id)
            by_thread[thread_id] = {a["id"]: digest(a["body"]) for a in thread["answers"]}
        assert by_thread[thread_id].get(answer_id) == body_digest, (
            f"acknowledged answer {answer_id} on {thread_id} lost or changed after crash")


def test_kill_minus_9_loses_no_acknowledged_write(own_server, spec):
    started = time.monotonic()
    checker = Api(own_server, spec, own_server.admin_token)
    load = WriteLoad(own_server, spec)
    load.start()
    rng = random.Random()
    checked_threads, checked_answers = set(), set()
    try:
        cycle = 0
        while cycle < MIN_CYCLES or (cycle < MAX_CYCLES
                                     and time.monotonic() - started < TIME_BUDGET):
            cycle += 1
            load.up.set()
            target = load.acked() + rng.randint(1, 120)
            wait_until(lambda: load.acked() >= target or load.errors, 30,
                       f"write progress in cycle {cycle}")
            time.sleep(rng.uniform(0, 0.02))  # land the kill at a random point mid-request
            own_server.kill()
            load.up.clear()
            own_server.start()

            threads, answers = load.snapshot()
            verify(checker,
                   {k: v for k, v in threads.items() if k not in checked_threads},
                   {k: v for k, v in answers.items() if k not in checked_answers})
            checked_threads |= threads.keys()
            checked_answers |= answers.keys()
            assert not load.errors, load.errors[:5]
    finally:
        load.stop()

    threads, answers = load.snapshot()
    verify(checker, threads, answers)
    listed, _ = list_all(checker, "/v1/threads", limit=100)
    listed_ids = [t["id"] for t in listed]
    assert len(listed_ids) == len(set(listed_ids)), "duplicates in the thread list"
    assert set(threads) <= set(listed_ids), "acknowledged threads missing from the list"
    assert len(threads) >= MIN_CYCLES
    print(f"{cycle} kill -9 cycles, {len(threads)} threads and {len(answers)} answers "
          f"acknowledged, {time.monotonic() - started:.1f}s")


def test_sigterm_exits_zero_and_keeps_data(own_server, spec):
    api = Api(own_server, spec, own_server.admin_token)
    thread = create_thread(api, tags=["durable"])
    code = own_server.stop()
    assert code == 0, f"SIGTERM exit code {code}; log:\n{own_server.log_tail()}"
    own_server.start()
    kept, _ = get_thread(api, thread["id"])
    assert (kept["title"], kept["body"], kept["tags"]) == (
        thread["title"], thread["body"], thread["tags"])
    assert api.get("/v1/me").status_code == 200, "admin token lost over restart"
