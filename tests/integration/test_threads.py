"""Threads: create, read, list, edit, answers, comments, accept, votes, tags."""

import re
from urllib.parse import urlsplit

import pytest

from support import (assert_problem, create_thread, get_thread, list_all, new_thread_body,
                     post_answer, unique)

RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def etag_of(thread):
    return f'"v{thread["version"]}"'


def patch(api, thread_id, etag, **fields):
    return api.patch(f"/v1/threads/{thread_id}", json=fields, headers={"If-Match": etag})


def ids(items):
    return [item["id"] for item in items]


@pytest.fixture
def people(org):
    """alice and bob are members, erin an expert, all in a fresh org."""
    return {"alice": org.add_user("member"), "bob": org.add_user("member"),
            "erin": org.add_user("expert"), "admin": org.admin}


# --------------------------------------------------------------------------
# Create and read
# --------------------------------------------------------------------------

def test_create_returns_thread_location_and_etag(people):
    alice = people["alice"]
    sent = new_thread_body(title="How do we size Oracle for ACME?", body="We need **speed**.",
                           tags=["oracle", "sizing"], kind="feature_request", account="ACME",
                           region="EMEA", product="DB", needed_by="2026-12-01",
                           deal_value=125000.5)
    resp = alice.post("/v1/threads", json=sent)
    assert resp.status_code == 201, resp.text
    thread = resp.json()
    assert urlsplit(resp.headers["Location"]).path == f"/v1/threads/{thread['id']}"
    assert resp.headers["ETag"] == etag_of(thread)
    for key in ("title", "body", "kind", "account", "region", "product", "needed_by",
                "deal_value"):
        assert thread[key] == sent[key], key
    assert sorted(thread["tags"]) == ["oracle", "sizing"]
    assert thread["status"] == "open"
    assert thread["author_id"] == alice.id
    assert thread["revision"] == 1
    assert thread["answer_count"] == 0
    assert thread["accepted_answer_id"] is None
    assert thread["answers"] == [] and thread["comments"] == []
    assert RFC3339_UTC.match(thread["created_at"]), thread["created_at"]
    assert RFC3339_UTC.match(thread["updated_at"]), thread["updated_at"]

    fetched = alice.get(f"/v1/threads/{thread['id']}")
    assert fetched.status_code == 200
    created = {k: v for k, v in thread.items() if k != "similar"}  # only the 201 carries suggestions
    assert isinstance(thread.get("similar"), list)
    assert fetched.json() == created
    assert fetched.headers["ETag"] == resp.headers["ETag"]


def test_create_defaults(people):
    thread = create_thread(people["alice"], body="")
    assert thread["kind"] == "question"
    assert thread["tags"] == [] and thread["body"] == ""
    for key in ("account", "region", "product", "needed_by", "deal_value"):
        assert thread[key] is None, key


@pytest.mark.parametrize("title", ["t" * 300, "é" * 300, "日本" * 150],
                         ids=["300-ascii", "300-two-byte", "300-three-byte"])
def test_title_limit_counts_characters(people, title):
    assert create_thread(people["alice"], title=title)["title"] == title


def test_if_none_match_gives_304_until_changed(people):
    thread = create_thread(people["alice"])
    path = f"/v1/threads/{thread['id']}"
    etag = people["alice"].get(path).headers["ETag"]

    not_modified = people["alice"].get(path, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.content == b""

    post_answer(people["erin"], thread["id"])
    changed = people["alice"].get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag


def test_get_never_serves_a_stale_thread(people, make_org):
    """GET bodies are memoised per thread: every kind of change, and a delete, must show at once."""
    alice, erin, bob = people["alice"], people["erin"], people["bob"]
    thread = create_thread(alice, title="memo v1")
    path = f"/v1/threads/{thread['id']}"

    def fetched():
        resp = alice.get(path)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert resp.headers["ETag"] == etag_of(body)
        assert alice.get(path).json() == body  # a repeated read (from the memo) is the same
        return body

    assert fetched()["version"] == 1
    answer = post_answer(erin, thread["id"])
    seen = fetched()
    assert (seen["version"], seen["answer_count"]) == (2, 1)
    assert alice.post(f"{path}/comments", json={"body": "which region?"}).status_code == 201
    seen = fetched()
    assert (seen["version"], len(seen["comments"])) == (3, 1)
    assert bob.post(f"/v1/answers/{answer['id']}/vote", json={"value": 1}).status_code == 200
    seen = fetched()
    assert (seen["version"], seen["answers"][0]["score"]) == (4, 1)
    assert alice.post(f"{path}/accept", json={"answer_id": answer["id"]}).status_code == 200
    seen = fetched()
    assert (seen["version"], seen["accepted_answer_id"], seen["status"]) == (5, answer["id"], "resolved")
    assert patch(alice, thread["id"], etag_of(seen), title="memo v2").status_code == 200
    seen = fetched()
    assert (seen["version"], seen["title"]) == (6, "memo v2")

    # Another organisation never gets it, memoised or not.
    rival = make_org().admin
    assert_problem(rival.get(path), 404, "not-found")
    assert fetched() == seen

    assert alice.delete(path).status_code == 204
    assert_problem(alice.get(path), 404, "not-found")
    assert_problem(alice.get(path, headers={"If-None-Match": etag_of(seen)}), 404, "not-found")


def test_authenticated_responses_are_private(people):
    resp = people["alice"].get("/v1/threads")
    assert resp.headers.get("Cache-Control", "").replace(" ", "") == "private,no-cache"
    assert "authorization" in resp.headers.get("Vary", "").lower()


def test_change_seq_increases_with_each_write(people):
    alice, erin = people["alice"], people["erin"]
    seqs = []
    resp = alice.post("/v1/threads", json=new_thread_body())
    seqs.append(int(resp.headers["X-Change-Seq"]))
    thread_id = resp.json()["id"]
    for _ in range(3):
        resp = erin.post(f"/v1/threads/{thread_id}/answers", json={"body": "answer"})
        seqs.append(int(resp.headers["X-Change-Seq"]))
    assert seqs == sorted(set(seqs)), seqs


# --------------------------------------------------------------------------
# Lists
# --------------------------------------------------------------------------

def test_list_is_newest_first_and_pages_without_gaps(people):
    alice = people["alice"]
    tag = unique("page")
    created = [create_thread(alice, tags=[tag])["id"] for _ in range(25)]
    expected = list(reversed(created))

    # Page manually so a thread can be inserted between pages: it is newer
    # than the cursor position, so it must not appear or shift the pages.
    seen, params, sizes = [], {"tag": tag, "limit": 7}, []
    while True:
        page = alice.get("/v1/threads", params=params).json()
        sizes.append(len(page["items"]))
        seen.extend(ids(page["items"]))
        if len(sizes) == 1:
            create_thread(alice, tags=[tag])
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == expected
    assert sizes == [7, 7, 7, 4]

    everything, _ = list_all(alice, "/v1/threads", params={"tag": tag}, limit=100)
    assert len(everything) == 26
    assert ids(everything)[1:] == expected


def test_list_default_limit_is_20(people):
    alice = people["alice"]
    tag = unique("deflimit")
    for _ in range(21):
        create_thread(alice, tags=[tag])
    page = alice.get("/v1/threads", params={"tag": tag}).json()
    assert len(page["items"]) == 20
    assert page["next_cursor"] is not None


def test_list_filters(people):
    alice, bob, erin, admin = (people[k] for k in ("alice", "bob", "erin", "admin"))
    t_open = create_thread(alice, tags=["filter-a"])
    t_feature = create_thread(bob, kind="feature_request", tags=["filter-b"])
    t_answered = create_thread(alice, kind="complaint")
    post_answer(erin, t_answered["id"])
    t_resolved = create_thread(alice, kind="tip")
    answer = post_answer(erin, t_resolved["id"])
    accepted = alice.post(f"/v1/threads/{t_resolved['id']}/accept",
                          json={"answer_id": answer["id"]})
    assert accepted.status_code == 200, accepted.text
    t_closed = create_thread(bob)
    closed = patch(admin, t_closed["id"], etag_of(t_closed), status="closed")
    assert closed.status_code == 200, closed.text

    def listed(**params):
        items, _ = list_all(alice, "/v1/threads", params=params)
        for item in items:
            for absent in ("body", "body_html", "answers", "comments"):
                assert absent not in item, f"ThreadSummary carries {absent}"
        return ids(items)

    assert listed(status="open") == [t_feature["id"], t_open["id"]]
    assert listed(status="answered") == [t_answered["id"]]
    assert listed(status="resolved") == [t_resolved["id"]]
    assert listed(status="closed") == [t_closed["id"]]
    assert listed(tag="filter-a") == [t_open["id"]]
    assert listed(kind="feature_request") == [t_feature["id"]]
    assert listed(kind="tip") == [t_resolved["id"]]
    assert listed(author=bob.id) == [t_closed["id"], t_feature["id"]]
    assert listed(author=bob.id, status="open") == [t_feature["id"]]
    assert listed(tag="no-such-tag") == []


# --------------------------------------------------------------------------
# Editing
# --------------------------------------------------------------------------

def test_patch_requires_matching_if_match(people):
    alice = people["alice"]
    thread = create_thread(alice, title="original", tags=["one"])
    stale = etag_of(thread)

    resp = patch(alice, thread["id"], stale, title="edited", body="new body", tags=["Two"])
    assert resp.status_code == 200, resp.text
    edited = resp.json()
    assert (edited["title"], edited["body"], edited["tags"]) == ("edited", "new body", ["two"])
    assert edited["revision"] == 2
    assert edited["version"] > thread["version"]
    assert resp.headers["ETag"] == etag_of(edited)

    lost = patch(alice, thread["id"], stale, title="lost update")
    assert_problem(lost, 412, "precondition-failed")
    garbage = patch(alice, thread["id"], '"v999999"', title="lost update")
    assert_problem(garbage, 412, "precondition-failed")
    missing = alice.patch(f"/v1/threads/{thread['id']}", json={"title": "no precondition"})
    assert_problem(missing, 428, "precondition-required")

    current, etag = get_thread(alice, thread["id"])
    assert (current["title"], current["body"], current["tags"]) == ("edited", "new body", ["two"])
    assert etag == resp.headers["ETag"]


def test_revisions_record_every_edit(people):
    alice, admin = people["alice"], people["admin"]
    thread = create_thread(alice, title="v1", body="b1", tags=["t1"])
    first = patch(alice, thread["id"], etag_of(thread), title="v2").json()
    second = patch(admin, thread["id"], etag_of(first), body="b3", tags=["t3"]).json()
    assert second["revision"] == 3

    resp = alice.get(f"/v1/threads/{thread['id']}/revisions")
    assert resp.status_code == 200
    revisions = resp.json()["items"]
    assert [r["revision"] for r in revisions] == [1, 2, 3]
    assert [(r["title"], r["body"], r["tags"]) for r in revisions] == [
        ("v1", "b1", ["t1"]), ("v2", "b1", ["t1"]), ("v2", "b3", ["t3"])]
    assert [r["editor_id"] for r in revisions] == [alice.id, alice.id, admin.id]


@pytest.mark.parametrize("who", ["bob", "erin"])
def test_only_author_or_admin_may_patch(people, who):
    thread = create_thread(people["alice"], title="mine")
    denied = patch(people[who], thread["id"], etag_of(thread), title="not yours")
    assert_problem(denied, 403, "forbidden")
    assert get_thread(people["alice"], thread["id"])[0]["title"] == "mine"
    allowed = patch(people["admin"], thread["id"], etag_of(thread), title="admin edit")
    assert allowed.status_code == 200
    assert allowed.json()["title"] == "admin edit"


def test_admin_close_blocks_answers_until_reopened(people):
    alice, erin, admin = people["alice"], people["erin"], people["admin"]
    thread = create_thread(alice)

    denied = patch(alice, thread["id"], etag_of(thread), status="closed")
    assert denied.status_code in (403, 422), denied.text
    closed = patch(admin, thread["id"], etag_of(thread), status="closed")
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"

    refused = erin.post(f"/v1/threads/{thread['id']}/answers", json={"body": "too late"})
    assert_problem(refused, 409, "conflict")
    assert get_thread(alice, thread["id"])[0]["answer_count"] == 0

    reopened = patch(admin, thread["id"], closed.headers["ETag"], status="open")
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["status"] == "open"
    post_answer(erin, thread["id"])


# --------------------------------------------------------------------------
# Answers, comments, accept, votes
# --------------------------------------------------------------------------

def test_answers_move_thread_to_answered(people):
    alice, erin = people["alice"], people["erin"]
    thread = create_thread(alice)
    resp = erin.post(f"/v1/threads/{thread['id']}/answers", json={"body": "Use **RAC**."})
    assert resp.status_code == 201, resp.text
    answer = resp.json()
    assert answer["thread_id"] == thread["id"] and answer["author_id"] == erin.id
    assert answer["score"] == 0 and answer["accepted"] is False
    assert "<strong>RAC</strong>" in answer["body_html"]
    second = post_answer(alice, thread["id"])

    current, etag = get_thread(alice, thread["id"])
    assert current["status"] == "answered"
    assert current["answer_count"] == 2
    assert set(ids(current["answers"])) == {answer["id"], second["id"]}
    assert etag != etag_of(thread)


def test_comments_on_thread_and_answer(people):
    alice, erin = people["alice"], people["erin"]
    thread = create_thread(alice)
    answer = post_answer(erin, thread["id"])
    on_thread = alice.post(f"/v1/threads/{thread['id']}/comments", json={"body": "Any news?"})
    assert on_thread.status_code == 201, on_thread.text
    on_answer = alice.post(f"/v1/threads/{thread['id']}/comments",
                           json={"body": "Thanks!", "answer_id": answer["id"]})
    assert on_answer.status_code == 201, on_answer.text
    assert on_thread.json()["answer_id"] is None
    assert on_answer.json()["answer_id"] == answer["id"]
    assert on_answer.json()["author_id"] == alice.id

    current, _ = get_thread(alice, thread["id"])
    assert {(c["id"], c["body"]) for c in current["comments"]} == {
        (on_thread.json()["id"], "Any news?"), (on_answer.json()["id"], "Thanks!")}


def test_accept_by_author_or_admin_only(people):
    alice, bob, erin, admin = (people[k] for k in ("alice", "bob", "erin", "admin"))
    thread = create_thread(alice)
    answer = post_answer(erin, thread["id"])
    accept_path = f"/v1/threads/{thread['id']}/accept"

    for outsider in (bob, erin):
        assert_problem(outsider.post(accept_path, json={"answer_id": answer["id"]}),
                       403, "forbidden")

    accepted = alice.post(accept_path, json={"answer_id": answer["id"]})
    assert accepted.status_code == 200, accepted.text
    body = accepted.json()
    assert body["status"] == "resolved"
    assert body["accepted_answer_id"] == answer["id"]
    assert [a["accepted"] for a in body["answers"]] == [True]

    unaccepted = alice.post(accept_path, json={"answer_id": None}).json()
    assert unaccepted["status"] == "answered"
    assert unaccepted["accepted_answer_id"] is None
    assert [a["accepted"] for a in unaccepted["answers"]] == [False]

    by_admin = admin.post(accept_path, json={"answer_id": answer["id"]})
    assert by_admin.status_code == 200
    assert by_admin.json()["status"] == "resolved"


def test_votes_one_per_user(people):
    alice, bob, erin = people["alice"], people["bob"], people["erin"]
    thread = create_thread(alice)
    answer = post_answer(erin, thread["id"])
    vote_path = f"/v1/answers/{answer['id']}/vote"

    def vote(actor, value):
        resp = actor.post(vote_path, json={"value": value})
        assert resp.status_code == 200, resp.text
        return resp.json()["score"]

    assert vote(alice, 1) == 1
    assert vote(alice, 1) == 1, "second identical vote counted twice"
    assert vote(alice, -1) == -1
    assert vote(bob, 1) == 0
    assert vote(alice, 0) == 1
    assert_problem(erin.post(vote_path, json={"value": 1}), 403, "forbidden")
    assert get_thread(alice, thread["id"])[0]["answers"][0]["score"] == 1


# --------------------------------------------------------------------------
# Content rules
# --------------------------------------------------------------------------

def test_markdown_is_rendered_safely(people):
    body = ("Use **bold** here.\n\n"
            "<script>alert('xss')</script>\n\n"
            "Inline <img src=x onerror=alert(1)> html.\n\n"
            "[click](javascript:alert(1)) and [data](data:text/html;base64,PHNjcmlwdD4=) "
            "and [ok](https://example.com/docs)\n")
    thread = create_thread(people["alice"], body=body)
    html = thread["body_html"]
    assert thread["body"] == body, "body must be stored as given"
    assert "<strong>bold</strong>" in html
    assert "<script" not in html.lower()
    assert "onerror" not in html.lower()
    assert "javascript:" not in html.lower()
    assert "data:text/html" not in html.lower()
    assert 'href="https://example.com/docs"' in html


def test_tags_are_normalised(people):
    thread = create_thread(people["alice"],
                           tags=[" Oracle  DB ", "C++", "c#", "Node.js", "oracle-db", "GO", "go"])
    assert sorted(thread["tags"]) == sorted(["oracle-db", "c++", "c#", "node.js", "go"])


def test_tag_counts(people):
    alice = people["alice"]
    for tags in (["go", "rust"], ["Go"], ["rust", "zig"], ["go"]):
        create_thread(alice, tags=tags)
    expected = [{"tag": "go", "count": 3}, {"tag": "rust", "count": 2},
                {"tag": "zig", "count": 1}]
    everything, _ = list_all(alice, "/v1/tags")
    assert everything == expected
    paged, pages = list_all(alice, "/v1/tags", limit=2)
    assert paged == expected and pages == 2


# --------------------------------------------------------------------------
# Idempotency
# --------------------------------------------------------------------------

def test_idempotency_key_replays_and_rejects_reuse(people):
    alice = people["alice"]
    tag = unique("idem")
    key = unique("key")
    sent = new_thread_body(tags=[tag])

    first = alice.post("/v1/threads", json=sent, headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    assert first.headers.get("Idempotent-Replayed") != "true"
    again = alice.post("/v1/threads", json=sent, headers={"Idempotency-Key": key})
    assert again.status_code == 201, again.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Location"] == first.headers["Location"]

    other = dict(sent, title="a different title")
    reused = alice.post("/v1/threads", json=other, headers={"Idempotency-Key": key})
    assert_problem(reused, 422, "idempotency-key-reused")

    listed, _ = list_all(alice, "/v1/threads", params={"tag": tag})
    assert ids(listed) == [first.json()["id"]]


def test_idempotency_key_may_be_quoted(people):
    alice = people["alice"]
    key = unique("key")
    sent = new_thread_body()
    first = alice.post("/v1/threads", json=sent, headers={"Idempotency-Key": key})
    quoted = alice.post("/v1/threads", json=sent, headers={"Idempotency-Key": f'"{key}"'})
    assert quoted.status_code == 201
    assert quoted.headers.get("Idempotent-Replayed") == "true"
    assert quoted.json()["id"] == first.json()["id"]
