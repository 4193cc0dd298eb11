"""Tenant isolation: org B can neither see nor touch org A's data, and an id
of org A looks exactly like an id that does not exist."""

from types import SimpleNamespace

import pytest

from support import (Org, create_thread, get_thread, list_all, list_events, missing_id_like,
                     post_answer, unique)


@pytest.fixture(scope="module")
def tenants(root):
    a, b = Org(root), Org(root)
    a_member, a_expert = a.add_user("member"), a.add_user("expert")
    b_member = b.add_user("member")
    tag = unique("secret")
    thread = create_thread(a_member, tags=[tag], title=unique("a-secret"))
    answer = post_answer(a_expert, thread["id"])
    comment = a_member.post(f"/v1/threads/{thread['id']}/comments", json={"body": "a-only"})
    assert comment.status_code == 201
    b_thread = create_thread(b_member)
    return SimpleNamespace(
        a=a, b=b, a_member=a_member, a_expert=a_expert, b_member=b_member, tag=tag,
        b_thread=b_thread,
        a_ids={"thread": thread["id"], "answer": answer["id"], "user": a_member.id,
               "token": a_member.token_id},
    )


# (who in org B, method, path, body, headers); {x} is an id of org A, {b_thread}
# an id of B. Each is compared with the same request for a missing id.
PROBES = [
    ("member", "GET", "/v1/threads/{thread}", None, {}),
    ("member", "GET", "/v1/threads/{thread}/revisions", None, {}),
    ("admin", "PATCH", "/v1/threads/{thread}", {"title": "hijack"}, {"If-Match": "{etag}"}),
    ("member", "POST", "/v1/threads/{thread}/answers", {"body": "hijack"}, {}),
    ("member", "POST", "/v1/threads/{thread}/comments", {"body": "hijack"}, {}),
    ("admin", "POST", "/v1/threads/{thread}/accept", {"answer_id": None}, {}),
    ("member", "POST", "/v1/answers/{answer}/vote", {"value": 1}, {}),
    ("member", "GET", "/v1/users/{user}", None, {}),
    ("admin", "GET", "/v1/users/{user}/tokens", None, {}),
    ("admin", "POST", "/v1/users/{user}/tokens", {"name": "hijack"}, {}),
    ("admin", "DELETE", "/v1/tokens/{token}", None, {}),
    ("member", "POST", "/v1/threads/{b_thread}/comments",
     {"body": "x", "answer_id": "{answer}"}, {}),
    ("admin", "POST", "/v1/threads/{b_thread}/accept", {"answer_id": "{answer}"}, {}),
]


def fill(value, ids):
    """Substitute {name} placeholders in strings nested in value."""
    if isinstance(value, str):
        for key, real in ids.items():
            value = value.replace("{" + key + "}", real)
        return value
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    return value


def comparable(resp, id_used):
    """A problem body without per-request fields and with the id masked."""
    body = {k: v for k, v in resp.json().items() if k not in ("instance", "request_id")}
    return resp.status_code, resp.headers.get("Content-Type"), fill_mask(body, id_used)


def fill_mask(value, id_used):
    if isinstance(value, str):
        return value.replace(id_used, "<id>")
    if isinstance(value, dict):
        return {k: fill_mask(v, id_used) for k, v in value.items()}
    if isinstance(value, list):
        return [fill_mask(v, id_used) for v in value]
    return value


@pytest.mark.parametrize("who,method,path,body,headers", PROBES,
                         ids=[f"{p[1]} {p[2]}" + (" (B's thread)" if "b_thread" in p[2] else "")
                              for p in PROBES])
def test_foreign_id_looks_missing(tenants, who, method, path, body, headers):
    actor = tenants.b.admin if who == "admin" else tenants.b_member
    _, a_etag = get_thread(tenants.a_member, tenants.a_ids["thread"])
    name = next(k for k in tenants.a_ids if "{" + k + "}" in path + str(body))
    foreign = tenants.a_ids[name]
    missing = missing_id_like(foreign)

    answers = []
    for id_used in (foreign, missing):
        ids = {**tenants.a_ids, name: id_used, "b_thread": tenants.b_thread["id"],
               "etag": a_etag}
        kwargs = {"headers": fill(headers, ids)}
        if body is not None:
            kwargs["json"] = fill(body, ids)
        resp = actor.request(method, fill(path, ids), **kwargs)
        assert resp.status_code >= 400, f"org B reached org A's {name}: {resp.text}"
        answers.append(comparable(resp, id_used))
    assert answers[0] == answers[1]
    if "{b_thread}" not in path:
        assert answers[0][0] == 404


def test_org_a_untouched_by_org_b(tenants):
    """Runs after the probes: nothing of A changed, A's token still works."""
    thread, _ = get_thread(tenants.a_member, tenants.a_ids["thread"])
    assert thread["revision"] == 1
    assert thread["status"] == "answered"
    assert thread["answer_count"] == 1 and len(thread["comments"]) == 1
    assert thread["answers"][0]["score"] == 0
    assert tenants.a_member.get("/v1/me").status_code == 200
    tokens = tenants.a.admin.get(f"/v1/users/{tenants.a_member.id}/tokens").json()["items"]
    assert [t["revoked_at"] for t in tokens] == [None]


def test_lists_of_b_exclude_a(tenants):
    b = tenants.b_member
    a_ids = set(tenants.a_ids.values())

    threads, _ = list_all(b, "/v1/threads")
    assert [t["id"] for t in threads] == [tenants.b_thread["id"]]
    tagged, _ = list_all(b, "/v1/threads", params={"tag": tenants.tag})
    assert tagged == []
    by_a_author = b.get("/v1/threads", params={"author": tenants.a_member.id})
    if by_a_author.status_code == 200:
        assert by_a_author.json()["items"] == []

    tags, _ = list_all(b, "/v1/tags")
    assert tenants.tag not in {t["tag"] for t in tags}

    users, _ = list_all(b, "/v1/users")
    assert not {u["id"] for u in users} & a_ids
    assert {u["id"] for u in users} == {tenants.b.admin.id, tenants.b_member.id}


@pytest.mark.parametrize("side", ["a", "b"])
def test_events_stay_in_their_org(tenants, side):
    org, other = (tenants.a, tenants.b) if side == "a" else (tenants.b, tenants.a)
    events = list_events(org.admin)
    assert events, "an org with activity has events"
    assert {e["org_id"] for e in events} == {org.id}
    foreign = set(tenants.a_ids.values()) if side == "b" else {tenants.b_thread["id"],
                                                                tenants.b_member.id}
    for event in events:
        refs = {event.get("thread_id"), event.get("answer_id"), event.get("user_id"),
                event.get("actor_id")}
        assert not refs & foreign, event
    assert other.id not in {e["org_id"] for e in events}
