"""Expert routing over real HTTP: expertise, ranking with reasons, assignments, claim/decline,
escalation rounds driven by short SLAs, and exactly-once timers across kill -9."""

from __future__ import annotations

import pytest

from support import Api, Org, assert_problem, create_thread, list_events, post_answer, unique, wait_until

ALL_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
ALWAYS = {"start": "00:00", "end": "24:00", "days": ALL_DAYS}


def declare(actor, user_id, tags, **extra):
    body = {"tags": [{"tag": t, "level": lvl} for t, lvl in tags.items()], "timezone": "UTC", "working_hours": ALWAYS}
    body.update(extra)
    resp = actor.request("PUT", f"/v1/users/{user_id}/expertise", json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()


def settings(org, **values):
    resp = org.admin.request("PUT", "/v1/org/routing-settings", json=values)
    assert resp.status_code == 200, resp.text
    return resp.json()


def routing_of(actor, thread_id):
    resp = actor.get(f"/v1/threads/{thread_id}/routing")
    assert resp.status_code == 200, resp.text
    return resp.json()


def wait_routing(actor, thread_id, pred, timeout=10.0, what="routing"):
    return wait_until(lambda: (lambda r: r if pred(r) else None)(routing_of(actor, thread_id)), timeout, what)


def events_of(org, type_, thread_id):
    return [e for e in list_events(org.admin) if e["type"] == type_ and e["thread_id"] == thread_id]


@pytest.fixture
def team(make_org):
    """An org with three oracle experts of different levels, an SAP expert and a salesperson."""
    org = make_org()
    people = {name: org.add_user("expert", name=name) for name in ("ada", "bob", "cy", "sap")}
    declare(org.admin, people["ada"].id, {"oracle": 5})
    declare(org.admin, people["bob"].id, {"oracle": 3})
    declare(org.admin, people["cy"].id, {"oracle": 2})
    declare(org.admin, people["sap"].id, {"sap": 5})
    people["sam"] = org.add_user("member", name="sam")
    return org, people


def test_expertise_round_trip_and_validation(org):
    expert = org.add_user("expert")
    got = declare(expert, expert.id, {"Oracle DB": 4}, timezone="Europe/Berlin",
                  working_hours={"start": "08:00", "end": "16:30", "days": ["mon", "tue"]},
                  max_open=3, watch_tags=["SAP"])
    assert got["tags"] == [{"tag": "oracle-db", "level": 4}]
    assert got["watch_tags"] == ["sap"]
    assert expert.get(f"/v1/users/{expert.id}/expertise").json() == got
    bad = expert.request("PUT", f"/v1/users/{expert.id}/expertise",
                         json={"tags": [{"tag": "x", "level": 1}], "timezone": "Mars/Olympus"})
    assert_problem(bad, 422, "validation")
    assert "IANA" in bad.json()["detail"]
    bad = expert.request("PUT", f"/v1/users/{expert.id}/expertise", json={"tags": [{"tag": "x", "level": 9}]})
    assert_problem(bad, 422, "validation")
    other = org.add_user("member")
    assert_problem(other.request("PUT", f"/v1/users/{expert.id}/expertise", json={"tags": []}), 403, "forbidden")
    experts = org.admin.get("/v1/tags/oracle-db/experts").json()
    assert [x["user"]["id"] for x in experts["experts"]] == [expert.id]
    assert [w["id"] for w in org.admin.get("/v1/tags/sap/experts").json()["watchers"]] == [expert.id]


def test_question_goes_to_best_experts_with_reasons(team):
    org, p = team
    thread = create_thread(p["sam"], title="Does it run on Oracle 19c?", tags=["oracle"])
    r = wait_routing(org.admin, thread["id"], lambda r: r["assignments"])
    assert {a["user_id"] for a in r["assignments"]} == {p["ada"].id, p["bob"].id}  # fanout 2, best levels
    cands = {c["user_id"]: c for c in r["rounds"][0]["candidates"]}
    assert cands[p["ada"].id]["selected"] and cands[p["bob"].id]["selected"]
    assert not cands[p["cy"].id]["selected"] and cands[p["cy"].id]["eligible"]
    assert p["sap"].id not in cands
    assert "level score" in cands[p["ada"].id]["reason"]
    mine = p["ada"].get("/v1/me/assignments").json()["items"]
    assert [a["thread_id"] for a in mine] == [thread["id"]]
    assert p["cy"].get("/v1/me/assignments").json()["items"] == []


def test_no_covering_expert_falls_back_to_admins(team):
    org, p = team
    thread = create_thread(p["sam"], title="Can we promise 48-hour delivery?", tags=["logistics"])
    r = wait_routing(org.admin, thread["id"], lambda r: r["assignments"])
    assert [a["user_id"] for a in r["assignments"]] == [org.admin.id]
    assert r["assignments"][0]["fallback"] and r["rounds"][0]["fallback"]


def test_answer_closes_assignments(team):
    org, p = team
    thread = create_thread(p["sam"], title="Oracle RAC licensing", tags=["oracle"])
    wait_routing(org.admin, thread["id"], lambda r: len(r["assignments"]) == 2)
    post_answer(p["ada"], thread["id"], "Yes, licensed per core.")
    r = wait_routing(org.admin, thread["id"], lambda r: r["finished"])
    status = {a["user_id"]: a["status"] for a in r["assignments"]}
    assert status == {p["ada"].id: "answered", p["bob"].id: "closed"}
    assert p["bob"].get("/v1/me/assignments").json()["items"] == []


def test_claim_and_decline_reroutes_and_penalises(team):
    org, p = team
    thread = create_thread(p["sam"], title="Oracle on ARM?", tags=["oracle"])
    r = wait_routing(org.admin, thread["id"], lambda r: len(r["assignments"]) == 2)
    by_user = {a["user_id"]: a for a in r["assignments"]}
    claimed = p["ada"].post(f"/v1/assignments/{by_user[p['ada'].id]['id']}/claim")
    assert claimed.status_code == 200 and claimed.json()["status"] == "claimed"
    assert claimed.json()["claimed_until"] is not None
    # Someone else's assignment cannot be claimed or declined.
    assert_problem(p["cy"].post(f"/v1/assignments/{by_user[p['bob'].id]['id']}/claim"), 403, "forbidden")
    declined = p["bob"].post(f"/v1/assignments/{by_user[p['bob'].id]['id']}/decline", json={"reason": "not_my_area"})
    assert declined.status_code == 200 and declined.json()["status"] == "declined"
    r = wait_routing(org.admin, thread["id"], lambda r: any(a["user_id"] == p["cy"].id for a in r["assignments"]))
    assert r["rounds"][-1]["trigger"] == "declined"
    assert_problem(p["bob"].post(f"/v1/assignments/{by_user[p['bob'].id]['id']}/decline", json={"reason": "busy"}),
                   409, "conflict")
    assert_problem(p["bob"].post(f"/v1/assignments/{by_user[p['bob'].id]['id']}/decline", json={"reason": "bored"}),
                   422, "validation")
    # "Not my area" halves bob's oracle weight: on the next question cy (level 2) outranks bob (3 -> 1.5).
    nxt = create_thread(p["sam"], title="Oracle backup tools", tags=["oracle"])
    r = wait_routing(org.admin, nxt["id"], lambda r: r["assignments"])
    order = [c["user_id"] for c in r["rounds"][0]["candidates"]]
    assert order.index(p["cy"].id) < order.index(p["bob"].id)


def test_retagging_routes_to_newly_matching_experts_once(team):
    org, p = team
    thread = create_thread(p["sam"], title="Integration question", tags=["oracle"])
    r = wait_routing(org.admin, thread["id"], lambda r: len(r["assignments"]) == 2)
    etag = p["sam"].get(f"/v1/threads/{thread['id']}").headers["ETag"]
    resp = p["sam"].patch(f"/v1/threads/{thread['id']}", json={"tags": ["oracle", "sap"]}, headers={"If-Match": etag})
    assert resp.status_code == 200, resp.text
    r = wait_routing(org.admin, thread["id"], lambda r: any(a["user_id"] == p["sap"].id for a in r["assignments"]))
    users = [a["user_id"] for a in r["assignments"]]
    assert len(users) == len(set(users)) == 3  # nobody asked twice


def test_escalation_rounds_then_contacts(team):
    org, p = team
    settings(org, fanout=1, sla_seconds=1, max_rounds=2)
    thread = create_thread(p["sam"], title="Urgent Oracle question", tags=["oracle"])
    r = wait_routing(org.admin, thread["id"], lambda r: r["escalated"], timeout=20.0, what="escalation")
    rounds = [round_["round"] for round_ in r["rounds"]]
    assert rounds == [1, 2]
    assert r["rounds"][1]["trigger"] == "escalation"
    assert [a["round"] for a in r["assignments"]].count(2) == 2  # fanout grows: 1 x round 2
    assert len(events_of(org, "thread.escalated", thread["id"])) == 1


def test_timers_fire_once_across_kill_9(own_server, spec):
    root = Api(own_server, spec, own_server.root_token)
    org = Org(root)
    experts = [org.add_user("expert", name=f"e{i}") for i in range(4)]
    for i, e in enumerate(experts):
        declare(org.admin, e.id, {"oracle": 5 - i})
    settings(org, fanout=1, sla_seconds=2, max_rounds=3)
    sam = org.add_user("member")
    threads = [create_thread(sam, title=f"Oracle question {i}", tags=["oracle"]) for i in range(3)]
    for t in threads:
        wait_routing(org.admin, t["id"], lambda r: r["assignments"])
    own_server.kill()   # timers pending, maybe some due while the server is down
    own_server.start()
    for t in threads:
        r = wait_routing(org.admin, t["id"], lambda r: r["escalated"], timeout=30.0, what="escalation after restart")
        assert [x["round"] for x in r["rounds"]] == [1, 2, 3]
        users = [a["user_id"] for a in r["assignments"]]
        assert len(users) == len(set(users))  # no round fired twice
        assert len(events_of(org, "thread.escalated", t["id"])) == 1
