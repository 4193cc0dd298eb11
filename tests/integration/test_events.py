"""The change log: GET /v1/events (admins only), oldest first, paged by after=."""

import pytest

from support import assert_problem, list_events, new_thread_body, post_answer


def is_subsequence(needle, haystack):
    it = iter(haystack)
    return all(any(x == y for y in it) for x in needle)


@pytest.fixture
def activity(org):
    """A fresh org where each kind of write happened once, in a known order."""
    member, expert = org.add_user("member"), org.add_user("expert")
    created = member.post("/v1/threads", json=new_thread_body())
    thread = created.json()
    answer = post_answer(expert, thread["id"])
    member.post(f"/v1/threads/{thread['id']}/comments", json={"body": "thanks"})
    member.post(f"/v1/answers/{answer['id']}/vote", json={"value": 1})
    member.post(f"/v1/threads/{thread['id']}/accept", json={"answer_id": answer["id"]})
    etag = member.get(f"/v1/threads/{thread['id']}").headers["ETag"]
    edited = member.patch(f"/v1/threads/{thread['id']}", json={"title": "edited"},
                          headers={"If-Match": etag})
    closed = org.admin.patch(f"/v1/threads/{thread['id']}", json={"status": "closed"},
                             headers={"If-Match": edited.headers["ETag"]})
    assert closed.status_code == 200, closed.text
    revoked = org.admin.delete(f"/v1/tokens/{expert.token_id}")
    assert revoked.status_code == 204
    return dict(org=org, member=member, expert=expert, thread=thread, answer=answer,
                thread_seq=int(created.headers["X-Change-Seq"]),
                revoke_seq=int(revoked.headers["X-Change-Seq"]))


@pytest.mark.parametrize("role", ["member", "expert"])
def test_events_are_admin_only(org, role):
    assert_problem(org.add_user(role).get("/v1/events"), 403, "forbidden")


def test_events_record_every_write_in_order(activity):
    events = list_events(activity["org"].admin)
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(set(seqs)), "events not strictly ordered by seq"

    types = [e["type"] for e in events]
    expected = ["org.created", "user.created",                 # the org and its admin
                "user.created", "token.created", "user.created", "token.created",
                "thread.created", "answer.created", "comment.created", "answer.voted",
                "answer.accepted", "thread.edited", "thread.status_changed",
                "token.revoked"]
    assert is_subsequence(expected, types), types

    by_seq = {e["seq"]: e for e in events}
    created = by_seq[activity["thread_seq"]]
    assert created["type"] == "thread.created"
    assert created["thread_id"] == activity["thread"]["id"]
    assert created["actor_id"] == activity["member"].id
    revoked = by_seq[activity["revoke_seq"]]
    assert revoked["type"] == "token.revoked"
    assert revoked["actor_id"] == activity["org"].admin.id
    answered = next(e for e in events if e["type"] == "answer.created")
    assert answered["answer_id"] == activity["answer"]["id"]
    assert answered["thread_id"] == activity["thread"]["id"]
    assert events[-1]["seq"] == activity["revoke_seq"]


def test_after_pages_through_the_same_events(activity):
    admin = activity["org"].admin
    everything = list_events(admin, limit=100)
    paged = list_events(admin, limit=2)
    assert [e["seq"] for e in paged] == [e["seq"] for e in everything]

    middle = everything[len(everything) // 2]["seq"]
    tail = list_events(admin, after=middle)
    assert [e["seq"] for e in tail] == [e["seq"] for e in everything if e["seq"] > middle]

    last = admin.get("/v1/events", params={"after": everything[-1]["seq"]})
    assert last.status_code == 200
    assert last.json()["items"] == []


def test_limit_caps_the_page(activity):
    page = activity["org"].admin.get("/v1/events", params={"limit": 3}).json()
    assert len(page["items"]) == 3
    assert page["next_after"] == page["items"][-1]["seq"]
