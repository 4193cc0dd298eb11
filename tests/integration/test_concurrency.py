"""Concurrent writers: optimistic concurrency on PATCH, no lost answers, and
Idempotency-Key under a burst of identical requests."""

import threading
from concurrent.futures import ThreadPoolExecutor

from support import assert_problem, create_thread, get_thread, new_thread_body, unique

WORKERS = 8


def run_together(fn, args):
    """Run fn(arg) for every arg on its own thread, released by one barrier."""
    barrier = threading.Barrier(len(args))

    def call(arg):
        barrier.wait(timeout=30)
        return fn(arg)

    with ThreadPoolExecutor(max_workers=len(args)) as pool:
        return list(pool.map(call, args))


def test_concurrent_patches_with_same_etag_one_wins(org):
    author = org.add_user("member")
    thread = create_thread(author, title="before")
    _, etag = get_thread(author, thread["id"])
    # One client (connection pool) per worker: requests sessions are not shared.
    clients = [author.with_token(author.token) for _ in range(WORKERS)]

    def attempt(i):
        return clients[i].patch(f"/v1/threads/{thread['id']}", json={"title": f"writer {i}"},
                                headers={"If-Match": etag})

    responses = run_together(attempt, list(range(WORKERS)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [412] * (WORKERS - 1), statuses
    for resp in responses:
        if resp.status_code == 412:
            assert_problem(resp, 412, "precondition-failed")
    winner = next(r.json() for r in responses if r.status_code == 200)

    current, current_etag = get_thread(author, thread["id"])
    assert current["title"] == winner["title"]
    assert current_etag == f'"v{winner["version"]}"'
    revisions = author.get(f"/v1/threads/{thread['id']}/revisions").json()["items"]
    assert [r["title"] for r in revisions] == ["before", winner["title"]]


def test_concurrent_answers_are_all_stored(org):
    author = org.add_user("member")
    experts = [org.add_user("expert") for _ in range(WORKERS)]
    thread = create_thread(author)
    per_worker = 4

    def answer_many(i):
        created = []
        for n in range(per_worker):
            resp = experts[i].post(f"/v1/threads/{thread['id']}/answers",
                                   json={"body": f"expert {i} answer {n}"})
            assert resp.status_code == 201, resp.text
            created.append(resp.json()["id"])
        return created

    created = [a for batch in run_together(answer_many, list(range(WORKERS))) for a in batch]
    assert len(set(created)) == WORKERS * per_worker

    current, _ = get_thread(author, thread["id"])
    assert current["answer_count"] == WORKERS * per_worker
    assert {a["id"] for a in current["answers"]} == set(created)
    assert current["status"] == "answered"
    assert current["version"] >= thread["version"] + WORKERS * per_worker


def test_burst_with_one_idempotency_key_creates_one_thread(org):
    author = org.add_user("member")
    tag = unique("burst")
    key = unique("key")
    sent = new_thread_body(tags=[tag])
    clients = [author.with_token(author.token) for _ in range(WORKERS)]

    def post(i):
        return clients[i].post("/v1/threads", json=sent, headers={"Idempotency-Key": key})

    responses = run_together(post, list(range(WORKERS)))
    created = [r for r in responses if r.status_code == 201]
    for resp in responses:
        if resp.status_code != 201:
            assert_problem(resp, 409, "conflict")
    assert created, [r.status_code for r in responses]
    originals = [r for r in created if r.headers.get("Idempotent-Replayed") != "true"]
    assert len(originals) == 1, "more than one request executed for one key"
    assert {r.json()["id"] for r in created} == {originals[0].json()["id"]}

    listed = author.get("/v1/threads", params={"tag": tag}).json()["items"]
    assert [t["id"] for t in listed] == [originals[0].json()["id"]]
