"""Bad input, as data: each case is one request and the problem it must get.

Placeholders in paths and header values: {thread}, {answer}, {user}, {token}
(existing ids), {missing_thread}, {missing_answer}, {missing_user},
{missing_token} (same shape, unknown) and {etag} (the thread's current ETag).
Every answer must be problem+json with the expected status and type slug,
a non-empty detail, and no 5xx.
"""

import json
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from support import (Org, assert_problem, create_thread, missing_id_like, post_answer,
                     send_tolerant)

MIB = 1024 * 1024


@dataclass
class Case:
    id: str
    method: str
    path: str
    body: object = None           # dict/list -> JSON, bytes -> sent as is, None -> no body
    status: int = 422
    slug: str = "validation"
    headers: dict = field(default_factory=dict)
    actor: str = "member"         # member | admin | root
    pointer: str = None           # an errors[].pointer must start with this
    raw: bool = False             # send over a plain socket (server may close early)


def thread_case(id, body, pointer=None, **kw):
    """POST /v1/threads with a valid thread body updated by `body`."""
    full = {"title": "valid title", "body": "", "tags": []}
    full.update(body)
    return Case(id, "POST", "/v1/threads", full, pointer=pointer, **kw)


def patch_case(id, body, **kw):
    return Case(id, "PATCH", "/v1/threads/{thread}", body,
                headers={"If-Match": "{etag}"}, **kw)


MALFORMED = dict(status=400, slug="malformed-request")
NOT_FOUND = dict(status=404, slug="not-found")
NOT_ALLOWED = dict(status=405, slug="method-not-allowed")

CASES = [
    # -- body is not (valid) JSON -------------------------------------------
    Case("json-truncated", "POST", "/v1/threads", b'{"title": ', **MALFORMED),
    Case("json-empty-body", "POST", "/v1/threads", b"", **MALFORMED),
    Case("json-trailing-garbage", "POST", "/v1/threads",
         b'{"title":"a","body":"","tags":[]} x', **MALFORMED),
    Case("json-single-quotes", "POST", "/v1/threads", b"{'title':'a'}", **MALFORMED),
    Case("invalid-utf8", "POST", "/v1/threads",
         b'{"title":"caf\xc3\x28 \xff\xfe","body":"","tags":[]}', **MALFORMED),
    Case("invalid-utf8-answer", "POST", "/v1/threads/{thread}/answers",
         b'{"body":"\xed\xa0\x80"}', **MALFORMED),
    # -- well-formed JSON, wrong shape ----------------------------------------
    Case("json-array", "POST", "/v1/threads", [], ),
    Case("json-string", "POST", "/v1/threads", "title"),
    thread_case("title-number", {"title": 123}, "/title"),
    thread_case("title-null", {"title": None}, "/title"),
    thread_case("tags-string", {"tags": "go"}, "/tags"),
    thread_case("tags-number-item", {"tags": [1]}, "/tags"),
    thread_case("deal-value-string", {"deal_value": "100"}, "/deal_value"),
    thread_case("kind-unknown", {"kind": "rant"}, "/kind"),
    thread_case("unknown-field", {"priority": "high"}),
    Case("title-missing", "POST", "/v1/threads", {"body": "", "tags": []}),
    # -- domain limits ---------------------------------------------------------
    thread_case("title-empty", {"title": ""}, "/title"),
    thread_case("title-blank", {"title": "   \t "}, "/title"),
    thread_case("title-301", {"title": "x" * 301}, "/title"),
    thread_case("body-65537-bytes", {"body": "a" * 65537}, "/body"),
    thread_case("body-65538-bytes-multibyte", {"body": "é" * 32769}, "/body"),
    thread_case("tags-11", {"tags": [f"t{i}" for i in range(11)]}, "/tags"),
    thread_case("tag-slash", {"tags": ["foo/bar"]}, "/tags"),
    thread_case("tag-bang", {"tags": ["ok", "tag!"]}, "/tags"),
    thread_case("tag-empty", {"tags": [""]}, "/tags"),
    thread_case("tag-blank", {"tags": ["   "]}, "/tags"),
    thread_case("tag-41", {"tags": ["a" * 41]}, "/tags"),
    thread_case("tag-unicode", {"tags": ["café"]}, "/tags"),
    thread_case("needed-by-month-13", {"needed_by": "2026-13-45"}, "/needed_by"),
    thread_case("needed-by-feb-30", {"needed_by": "2026-02-30"}, "/needed_by"),
    thread_case("needed-by-word", {"needed_by": "tomorrow"}, "/needed_by"),
    thread_case("needed-by-datetime", {"needed_by": "2026-12-01T00:00:00Z"}, "/needed_by"),
    thread_case("deal-value-negative", {"deal_value": -1}, "/deal_value"),
    thread_case("account-201", {"account": "a" * 201}, "/account"),
    thread_case("region-101", {"region": "r" * 101}, "/region"),
    thread_case("product-201", {"product": "p" * 201}, "/product"),
    Case("answer-empty", "POST", "/v1/threads/{thread}/answers", {"body": ""},
         pointer="/body"),
    Case("answer-65537", "POST", "/v1/threads/{thread}/answers", {"body": "a" * 65537},
         pointer="/body"),
    Case("comment-empty", "POST", "/v1/threads/{thread}/comments", {"body": ""},
         pointer="/body"),
    Case("comment-8193", "POST", "/v1/threads/{thread}/comments", {"body": "c" * 8193},
         pointer="/body"),
    Case("vote-2", "POST", "/v1/answers/{answer}/vote", {"value": 2}, pointer="/value"),
    Case("vote-string", "POST", "/v1/answers/{answer}/vote", {"value": "1"},
         pointer="/value"),
    Case("vote-fraction", "POST", "/v1/answers/{answer}/vote", {"value": 0.5},
         pointer="/value"),
    Case("accept-no-answer-id", "POST", "/v1/threads/{thread}/accept", {}, actor="admin"),
    patch_case("patch-unknown-field", {"priority": 1}),
    patch_case("patch-title-empty", {"title": ""}),
    patch_case("patch-status-resolved", {"status": "resolved"}, actor="admin"),
    Case("user-role-unknown", "POST", "/v1/users", {"name": "x", "role": "boss"},
         actor="admin", pointer="/role"),
    Case("user-name-empty", "POST", "/v1/users", {"name": "", "role": "member"},
         actor="admin", pointer="/name"),
    Case("user-name-101", "POST", "/v1/users", {"name": "n" * 101, "role": "member"},
         actor="admin", pointer="/name"),
    Case("user-email-255", "POST", "/v1/users",
         {"name": "x", "role": "member", "email": "e" * 243 + "@example.com"},
         actor="admin", pointer="/email"),
    Case("token-name-101", "POST", "/v1/users/{user}/tokens", {"name": "n" * 101},
         actor="admin", pointer="/name"),
    Case("org-name-empty", "POST", "/v1/orgs", {"name": "", "admin_name": "a"},
         actor="root", pointer="/name"),
    Case("org-admin-name-101", "POST", "/v1/orgs", {"name": "o", "admin_name": "a" * 101},
         actor="root", pointer="/admin_name"),
    # -- headers ---------------------------------------------------------------
    Case("content-type-text", "POST", "/v1/threads",
         b'{"title":"a","body":"","tags":[]}', 415, "unsupported-media-type",
         headers={"Content-Type": "text/plain"}),
    Case("content-type-form", "POST", "/v1/threads", b"title=a", 415,
         "unsupported-media-type",
         headers={"Content-Type": "application/x-www-form-urlencoded"}),
    Case("oversized-body", "POST", "/v1/threads",
         b'{"title":"big","body":"' + b"a" * MIB + b'","tags":[]}', 413,
         "payload-too-large", raw=True),
    Case("idempotency-key-256", "POST", "/v1/threads",
         {"title": "a", "body": "", "tags": []}, headers={"Idempotency-Key": "k" * 256},
         **MALFORMED),
    Case("idempotency-key-non-ascii", "POST", "/v1/threads",
         {"title": "a", "body": "", "tags": []}, headers={"Idempotency-Key": "clé"},
         **MALFORMED),
    # -- query parameters --------------------------------------------------------
    Case("cursor-garbage", "GET", "/v1/threads?cursor=garbage", status=400,
         slug="invalid-cursor"),
    Case("cursor-garbage-tags", "GET", "/v1/tags?cursor=%00%ff", status=400,
         slug="invalid-cursor"),
    Case("limit-0", "GET", "/v1/threads?limit=0", **MALFORMED),
    Case("limit-101", "GET", "/v1/threads?limit=101", **MALFORMED),
    Case("limit-abc", "GET", "/v1/threads?limit=abc", **MALFORMED),
    Case("limit-negative", "GET", "/v1/threads?limit=-1", **MALFORMED),
    Case("limit-empty", "GET", "/v1/threads?limit=", **MALFORMED),
    Case("status-unknown", "GET", "/v1/threads?status=pending", **MALFORMED),
    Case("kind-filter-unknown", "GET", "/v1/threads?kind=rant", **MALFORMED),
    Case("tags-limit-101", "GET", "/v1/tags?limit=101", **MALFORMED),
    Case("users-limit-0", "GET", "/v1/users?limit=0", **MALFORMED),
    Case("users-role-unknown", "GET", "/v1/users?role=boss", **MALFORMED),
    Case("events-after-abc", "GET", "/v1/events?after=abc", actor="admin", **MALFORMED),
    Case("events-limit-101", "GET", "/v1/events?limit=101", actor="admin", **MALFORMED),
    # -- unknown ids and routes ---------------------------------------------------
    Case("thread-missing", "GET", "/v1/threads/{missing_thread}", **NOT_FOUND),
    Case("revisions-missing", "GET", "/v1/threads/{missing_thread}/revisions", **NOT_FOUND),
    Case("patch-missing", "PATCH", "/v1/threads/{missing_thread}", {"title": "x"},
         headers={"If-Match": '"v1"'}, **NOT_FOUND),
    Case("answer-on-missing", "POST", "/v1/threads/{missing_thread}/answers",
         {"body": "x"}, **NOT_FOUND),
    Case("comment-on-missing", "POST", "/v1/threads/{missing_thread}/comments",
         {"body": "x"}, **NOT_FOUND),
    Case("vote-missing", "POST", "/v1/answers/{missing_answer}/vote", {"value": 1},
         **NOT_FOUND),
    Case("user-missing", "GET", "/v1/users/{missing_user}", **NOT_FOUND),
    Case("tokens-of-missing-user", "GET", "/v1/users/{missing_user}/tokens", actor="admin",
         **NOT_FOUND),
    Case("token-missing", "DELETE", "/v1/tokens/{missing_token}", actor="admin",
         **NOT_FOUND),
    Case("route-unknown", "GET", "/v1/nope", **NOT_FOUND),
    Case("route-unknown-version", "GET", "/v2/threads", **NOT_FOUND),
    Case("route-too-deep", "GET", "/v1/threads/{thread}/answers/extra/deep", **NOT_FOUND),
    # -- methods ---------------------------------------------------------------------
    Case("delete-threads", "DELETE", "/v1/threads", **NOT_ALLOWED),
    Case("put-thread", "PUT", "/v1/threads/{thread}", {"title": "x"}, **NOT_ALLOWED),
    Case("get-answers", "GET", "/v1/threads/{thread}/answers", **NOT_ALLOWED),
    Case("get-vote", "GET", "/v1/answers/{answer}/vote", **NOT_ALLOWED),
    Case("delete-me", "DELETE", "/v1/me", **NOT_ALLOWED),
    Case("post-healthz", "POST", "/healthz", {}, **NOT_ALLOWED),
]


@pytest.fixture(scope="module")
def target(root):
    """One org with a member's thread and an expert's answer on it."""
    org = Org(root)
    member = org.add_user("member")
    expert = org.add_user("expert")
    thread = create_thread(member)
    answer = post_answer(expert, thread["id"])
    ids = {"thread": thread["id"], "answer": answer["id"], "user": member.id,
           "token": member.token_id}
    ids.update({f"missing_{k}": missing_id_like(v) for k, v in list(ids.items())})
    return SimpleNamespace(ids=ids, actors={"member": member, "admin": org.admin, "root": root})


def encode(case):
    headers = dict(case.headers)
    if case.body is None:
        return None, headers
    if isinstance(case.body, bytes):
        data = case.body
    else:
        data = json.dumps(case.body).encode("utf-8")
    headers.setdefault("Content-Type", "application/json")
    return data, headers


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(target, case):
    actor = target.actors[case.actor]
    path = case.path.format(**target.ids)
    data, headers = encode(case)
    if any("{etag}" in v for v in headers.values()):
        etag = actor.get(f"/v1/threads/{target.ids['thread']}").headers["ETag"]
        headers = {k: v.replace("{etag}", etag) for k, v in headers.items()}

    if case.raw:
        resp = send_tolerant(actor, case.method, path, headers, data or b"")
    else:
        resp = actor.request(case.method, path, data=data, headers=headers)

    problem = assert_problem(resp, case.status, case.slug)
    if case.slug == "validation":
        errors = problem.get("errors")
        assert errors, f"validation problem without errors[]: {problem}"
        assert all(e.get("detail") for e in errors), errors
        if case.pointer is not None:
            pointers = [e.get("pointer", "").lstrip("#") for e in errors]
            assert any(p.startswith(case.pointer) for p in pointers), pointers
    if case.status == 405:
        allow = resp.headers.get("Allow", "")
        assert allow, "405 without Allow header"
        assert case.method not in [m.strip() for m in allow.split(",")], allow


def test_cursor_from_another_query_is_rejected(target):
    member = target.actors["member"]
    for _ in range(2):
        create_thread(member, tags=["cursor-a"])
    page = member.get("/v1/threads", params={"tag": "cursor-a", "limit": 1}).json()
    assert page["next_cursor"]
    reused = member.get("/v1/threads",
                        params={"tag": "cursor-b", "limit": 1, "cursor": page["next_cursor"]})
    assert_problem(reused, 400, "invalid-cursor")


def test_nothing_was_written_by_bad_input(target):
    member = target.actors["member"]
    listed = member.get("/v1/threads", params={"author": member.id, "limit": 100}).json()
    titles = {t["title"] for t in listed["items"]}
    assert not titles & {"valid title", "a", "big", "x"}, titles
    thread = member.get(f"/v1/threads/{target.ids['thread']}").json()
    assert thread["revision"] == 1 and thread["status"] == "answered"
    assert thread["answer_count"] == 1 and thread["comments"] == []
    assert thread["answers"][0]["score"] == 0


def test_server_still_healthy_after_bad_input(anon):
    resp = anon.get("/healthz")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok"}
