"""Insights over real HTTP: summary figures against a hand computation on an imported org with known
timestamps, per-tag/region slices, experts, gaps, CSV, roles and tenancy."""

from __future__ import annotations

import csv
import datetime
import io
import json

import pytest

from conftest import _binary
from support import Api, Org, ServerProcess, assert_problem, create_thread, post_answer, run_cli, unique, wait_until

ALL_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
PERIOD = {"from": "2026-03-01", "to": "2026-03-10"}


def ts(day, seconds_after_nine=0, month=3):
    """RFC 3339 for 09:00:00 UTC on 2026-<month>-<day> plus some seconds."""
    t = datetime.datetime(2026, month, day, 9, tzinfo=datetime.timezone.utc)
    t += datetime.timedelta(seconds=seconds_after_nine)
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def thread_line(n, author, kind, tags, region, day, answers=(), accepted_after=None, status=None, month=3):
    """An export-format thread created on 2026-<month>-<day> 09:00Z, answered `answers` seconds later."""
    tid = f"t-seed-{n}"
    line = {"type": "thread", "id": tid, "title": f"Seeded thread {n} about {' '.join(tags)}",
            "body": "Seeded body.", "tags": list(tags), "kind": kind, "author_id": author,
            "created_at": ts(day, month=month), "updated_at": ts(day, month=month), "version": 1, "revision": 1,
            "answers": [], "comments": [], "revisions": [
                {"revision": 1, "title": f"Seeded thread {n} about {' '.join(tags)}", "body": "Seeded body.",
                 "tags": list(tags), "editor_id": author, "created_at": ts(day, month=month)}]}
    if region:
        line["region"] = region
    for i, after in enumerate(answers):
        line["answers"].append({"id": f"a-seed-{n}-{i}", "body": "An answer.", "author_id": author,
                                "created_at": ts(day, after, month), "score": 0, "votes": []})
    if accepted_after is not None:
        line["accepted_answer_id"] = line["answers"][0]["id"]
        line["accepted_at"] = ts(day, accepted_after, month)
    line["status"] = status or ("resolved" if accepted_after is not None else "answered" if answers else "open")
    return line


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, spec):
    """An org imported with threads whose timestamps (and so answer times) are known."""
    data = tmp_path_factory.mktemp("insights-data")
    srv = ServerProcess(_binary(), data, data.parent / f"{data.name}.log").start()
    try:
        root = Api(srv, spec, srv.root_token)
        created = root.post("/v1/orgs", json={"name": unique("Seed Co"), "admin_name": "Seed admin"})
        assert created.status_code == 201, created.text
        source_org = created.json()["org"]["id"]
        srv.stop()
        export_file = tmp_path_factory.mktemp("seed") / "org.jsonl"
        run_cli(srv, "export", "--org", source_org, "--out", export_file, "--data", srv.data_dir)
        lines = [json.loads(x) for x in export_file.read_text().splitlines()]
        header, users = lines[0], [x for x in lines if x["type"] == "user"]
        author = users[0]["id"]
        threads = [
            thread_line(1, author, "question", ["pricing"], "EMEA", 2, answers=[30], accepted_after=7200),
            thread_line(2, author, "question", ["pricing", "oracle"], "EMEA", 2, answers=[10800, 20000]),
            thread_line(3, author, "question", ["oracle"], "APAC", 4, answers=[180000]),
            thread_line(4, author, "question", ["oracle"], "APAC", 1),
            thread_line(5, author, "feature_request", ["sso"], "AMER", 3),
            thread_line(6, author, "complaint", ["pricing"], None, 5, answers=[10]),
            # Outside the period: must not count.
            thread_line(7, author, "question", ["pricing"], "EMEA", 1, answers=[5], month=2),
        ]
        seed = export_file.with_name("seed.jsonl")
        seed.write_text("\n".join(json.dumps(x) for x in [header, *users, *threads,
                                                         {"type": "end", "users": len(users), "threads": len(threads)}]) + "\n")
        result = json.loads(run_cli(srv, "import", seed, "--data", srv.data_dir).stdout)
        srv.start()
        admin = Api(srv, spec, result["admin_token"])
        ids = {}
        for t in admin.get("/v1/threads", params={"limit": 100}).json()["items"]:
            ids[int(t["title"].split()[2])] = t["id"]
        yield dict(server=srv, admin=admin, ids=ids, org_id=result["org_id"], root=Api(srv, spec, srv.root_token))
    finally:
        srv.kill()


def summary(api, **params):
    wait_until(lambda: api.get("/v1/insights/summary", params=dict(PERIOD, **params)).json()["threads"] > 0,
               10, "insights rollups")
    resp = api.get("/v1/insights/summary", params=dict(PERIOD, **params))
    assert resp.status_code == 200, resp.text
    return resp.json()


def by_name(slices):
    return {s["name"]: s for s in slices}


def close_to(value, expected, rel=0.016):
    return value is not None and abs(value - expected) <= rel * expected


def test_summary_matches_a_hand_computation(seeded):
    s = summary(seeded["admin"])
    # Six threads created 2026-03-01..05; the February one is outside the period.
    assert s["threads"] == 6
    assert s["by_kind"]["question"] == {"open": 1, "answered": 2, "resolved": 1, "closed": 0, "total": 4}
    assert s["by_kind"]["feature_request"]["open"] == 1 and s["by_kind"]["complaint"]["answered"] == 1
    assert s["by_kind"]["tip"]["total"] == 0
    assert s["unanswered"] == 2 and s["answered"] == 4
    # First answers after 30 s, 10800 s, 180000 s and 10 s: nearest-rank p50 = 30 s (exact below 64 s),
    # p90 = 180000 s (within the documented 1.6 %).
    first = s["time_to_first_answer"]
    assert first["count"] == 4 and first["p50_seconds"] == 30 and close_to(first["p90_seconds"], 180000)
    assert s["time_to_accepted_answer"]["count"] == 1 and close_to(s["time_to_accepted_answer"]["p50_seconds"], 7200)
    # Within 24 h: 10 s, 30 s, 10800 s -> 3 of 4.
    assert s["answered_within_sla"] == 3 and s["within_sla_share"] == pytest.approx(0.75)
    assert s["sla_seconds"] == 86400
    # The two open threads, oldest first.
    assert [u["thread_id"] for u in s["oldest_unanswered"]] == [seeded["ids"][4], seeded["ids"][5]]
    assert s["oldest_unanswered"][0]["region"] == "APAC" and s["oldest_unanswered"][0]["age_seconds"] > 0

    tags = by_name(s["by_tag"])
    assert {k: v["threads"] for k, v in tags.items()} == {"pricing": 3, "oracle": 3, "sso": 1}
    assert tags["oracle"]["unanswered"] == 1 and tags["oracle"]["time_to_first_answer"]["count"] == 2
    assert tags["pricing"]["time_to_first_answer"]["p50_seconds"] == 30
    regions = by_name(s["by_region"])
    assert {k: v["threads"] for k, v in regions.items()} == {"EMEA": 2, "APAC": 2, "AMER": 1}

    # A tighter SLA changes the share: within 1 h only 10 s and 30 s.
    tight = summary(seeded["admin"], sla_hours=1)
    assert tight["answered_within_sla"] == 2 and tight["within_sla_share"] == pytest.approx(0.5)


def test_summary_filters_by_tag_and_region(seeded):
    oracle = summary(seeded["admin"], tag="Oracle")
    assert oracle["filters"] == {"tag": "oracle", "region": None}
    assert oracle["threads"] == 3 and oracle["unanswered"] == 1
    assert [u["thread_id"] for u in oracle["oldest_unanswered"]] == [seeded["ids"][4]]
    assert {k: v["threads"] for k, v in by_name(oracle["by_region"]).items()} == {"EMEA": 1, "APAC": 2}

    apac = summary(seeded["admin"], region="APAC")
    assert apac["threads"] == 2
    assert {k: v["threads"] for k, v in by_name(apac["by_tag"]).items()} == {"oracle": 2}

    both = summary(seeded["admin"], tag="pricing", region="EMEA")
    assert both["threads"] == 2 and both["answered"] == 2

    # A period before anything was created is empty, not an error.
    empty = seeded["admin"].get("/v1/insights/summary", params={"from": "2025-01-01", "to": "2025-01-31"}).json()
    assert empty["threads"] == 0 and empty["time_to_first_answer"]["p50_seconds"] is None
    assert empty["within_sla_share"] is None and empty["by_tag"] == []


def test_summary_as_csv_parses_with_a_standard_reader(seeded):
    summary(seeded["admin"])
    resp = seeded["admin"].get("/v1/insights/summary", params=PERIOD, headers={"Accept": "text/csv"})
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert rows[0]["scope"] == "all" and rows[0]["threads"] == "6" and rows[0]["within_sla_share"] == "0.7500"
    assert {(r["scope"], r["name"]): r["threads"] for r in rows[1:]} == {
        ("tag", "pricing"): "3", ("tag", "oracle"): "3", ("tag", "sso"): "1",
        ("region", "EMEA"): "2", ("region", "APAC"): "2", ("region", "AMER"): "1"}


def test_insights_are_for_admins_and_analysts_only(org):
    analyst = org.add_user("analyst")
    assert analyst.get("/v1/me").json()["role"] == "analyst"
    for path in ("/v1/insights/summary", "/v1/insights/experts", "/v1/insights/gaps"):
        assert analyst.get(path).status_code == 200
        assert org.admin.get(path).status_code == 200
        for role in ("member", "expert"):
            assert_problem(org.add_user(role).get(path), 403, "forbidden")


@pytest.mark.parametrize("params, needle", [
    ({"from": "yesterday"}, "from must be"),
    ({"to": "2026-13-01"}, "to must be"),
    ({"from": "2026-03-10", "to": "2026-03-01"}, "from must not be after to"),
    ({"from": "2000-01-01", "to": "2026-03-01"}, "3660 days"),
    ({"sla_hours": "0"}, "sla_hours must be an integer from 1"),
    ({"sla_hours": "abc"}, "sla_hours"),
    ({"tag": "bad tag!"}, "tag"),
    ({"after_seq": "-1"}, "after_seq"),
])
def test_bad_parameters_are_precise_400s(org, params, needle):
    problem = assert_problem(org.admin.get("/v1/insights/summary", params=params), 400, "malformed-request")
    assert needle in problem["detail"], problem


def test_experts_count_assignments_answers_declines_and_acceptance(make_org):
    org = make_org()
    ada, bob = org.add_user("expert", name="ada"), org.add_user("expert", name="bob")
    idle = org.add_user("expert", name="idle")
    for person in (ada, bob):
        resp = org.admin.request("PUT", f"/v1/users/{person.id}/expertise", json={
            "tags": [{"tag": "oracle", "level": 5}], "timezone": "UTC",
            "working_hours": {"start": "00:00", "end": "24:00", "days": ALL_DAYS}})
        assert resp.status_code == 200, resp.text
    org.admin.request("PUT", "/v1/org/routing-settings", json={"fanout": 2})
    asker = org.add_user("member")
    thread = create_thread(asker, tags=["oracle"], title="Does it run on Oracle 19c?")

    def mine(person):
        items = person.get("/v1/me/assignments").json()["items"]
        return [a for a in items if a["thread_id"] == thread["id"]]
    wait_until(lambda: mine(ada) and mine(bob), 10, "both experts assigned")
    declined = bob.post(f"/v1/assignments/{mine(bob)[0]['id']}/decline", json={"reason": "busy"})
    assert declined.status_code == 200, declined.text
    answer = post_answer(ada, thread["id"])
    accepted = asker.post(f"/v1/threads/{thread['id']}/accept", json={"answer_id": answer["id"]})
    assert accepted.status_code == 200, accepted.text
    seq = accepted.headers["X-Change-Seq"]

    resp = org.admin.get("/v1/insights/experts", params={"after_seq": seq})
    assert resp.status_code == 200, resp.text
    experts = {e["name"]: e for e in resp.json()["experts"]}
    assert experts["ada"]["assignments"] == 1 and experts["ada"]["answered"] == 1
    assert experts["ada"]["accepted_answers"] == 1 and experts["ada"]["accepted_rate"] == 1.0
    assert experts["ada"]["time_to_answer"]["count"] == 1 and experts["ada"]["time_to_answer"]["p50_seconds"] < 60
    assert experts["bob"]["assignments"] == 1 and experts["bob"]["declined"] == 1 and experts["bob"]["answered"] == 0
    assert experts["idle"]["assignments"] == 0 and experts["idle"]["open_load"] == 0, "idle experts are listed"
    # By tag: the same work; another tag has none.
    by_tag = {e["name"]: e for e in org.admin.get("/v1/insights/experts", params={"tag": "oracle"}).json()["experts"]}
    assert by_tag["ada"]["answered"] == 1
    other = {e["name"]: e for e in org.admin.get("/v1/insights/experts", params={"tag": "sap"}).json()["experts"]}
    assert other["ada"]["answered"] == 0
    rows = list(csv.DictReader(io.StringIO(
        org.admin.get("/v1/insights/experts", headers={"Accept": "text/csv"}).text)))
    assert {r["name"]: r["answered"] for r in rows} == {"ada": "1", "bob": "0", "idle": "0"}
    del idle


def test_gaps_report_missed_searches_uncovered_tags_and_deflection(make_org):
    org = make_org()
    member = org.add_user("member")
    term = "zq" + unique("").replace("-", "")[:10].lower()
    for _ in range(2):
        assert member.get("/v1/search", params={"q": f"{term} connector"}).json()["results"] == []
    create_thread(member, tags=["gdpr"], title="Where is customer data stored for GDPR?")
    similar = member.post("/v1/threads/similar", json={"title": "GDPR data storage location", "tags": ["gdpr"]})
    assert similar.status_code == 200, similar.text
    suggestion = similar.json()
    if suggestion["items"]:
        resolved = member.post(f"/v1/suggestions/{suggestion['suggestion_id']}/resolved",
                               json={"thread_id": suggestion["items"][0]["thread_id"]})
        assert resolved.status_code == 200, resolved.text
    gaps = wait_until(lambda: (lambda g: g if any(t["tag"] == "gdpr" for t in g["uncovered_tags"]) else None)(
        org.admin.get("/v1/insights/gaps").json()), 10, "gdpr in uncovered tags")
    assert {"term": term, "count": 2} in gaps["missed_terms"]
    assert gaps["searches"] >= 2 and gaps["searches_empty"] >= 2
    gdpr = next(t for t in gaps["uncovered_tags"] if t["tag"] == "gdpr")
    assert gdpr["threads"] == 1 and gdpr["experts"] == 0 and gdpr["unanswered"] == 1
    deflection = {d["tag"]: d for d in gaps["deflection"]}
    assert deflection["gdpr"]["suggested"] == 1
    assert deflection["gdpr"]["deflected"] == (1 if suggestion["items"] else 0)
    rows = list(csv.DictReader(io.StringIO(org.admin.get("/v1/insights/gaps", headers={"Accept": "text/csv"}).text)))
    assert any(r["section"] == "missed_term" and r["name"] == term and r["count"] == "2" for r in rows)


def test_no_figure_counts_another_organisations_threads(seeded):
    other = Org(seeded["root"])  # on the seeded server, next to the seeded org
    s = other.admin.get("/v1/insights/summary", params=PERIOD).json()
    assert s["threads"] == 0 and s["by_tag"] == [] and s["oldest_unanswered"] == []
    fresh = other.admin.get("/v1/insights/summary").json()
    create_thread(other.admin, tags=["pricing"])
    mine = wait_until(lambda: (lambda r: r if r["threads"] == fresh["threads"] + 1 else None)(
        other.admin.get("/v1/insights/summary").json()), 10, "own thread counted")
    assert {k: v["threads"] for k, v in by_name(mine["by_tag"]).items()} == {"pricing": 1}
    # ...and the seeded org's figures are unchanged by it.
    assert summary(seeded["admin"])["threads"] == 6


def test_digest_preview_subscription_and_send_to_the_inbox(make_org):
    org = make_org()
    analyst, member = org.add_user("analyst"), org.add_user("member")
    create_thread(member, tags=["pricing"], title="Is there an EMEA price book for 2027?")
    for title in ("Export reports to Excel spreadsheets", "Excel export of the pipeline report",
                  "Can reports be exported to Excel?"):
        create_thread(member, kind="feature_request", tags=["reporting"], title=title,
                      body="Customers want to export reports to Excel spreadsheets.")
    assert analyst.get("/v1/me/insights-digest").json() == {"subscribed": False, "last_sent_week": None}
    assert_problem(member.request("PUT", "/v1/me/insights-digest", json={"subscribed": True}), 403, "forbidden")
    assert_problem(analyst.request("PUT", "/v1/me/insights-digest", json={"subscribed": "yes"}), 422, "validation")
    put = analyst.request("PUT", "/v1/me/insights-digest", json={"subscribed": True})
    assert put.status_code == 200 and put.json()["subscribed"] is True, put.text

    preview = wait_until(lambda: (lambda d: d if d["threads"] >= 4 else None)(
        analyst.get("/v1/insights/digest").json()), 10, "digest counts the new threads")
    assert preview["title"].startswith("Weekly insights: 4 new threads")
    # Top topics come from the search index: the three Excel requests form one.
    wait_until(lambda: any("excel" in t["label"] and t["threads"] == 3
                           for t in analyst.get("/v1/insights/digest").json()["top_topics"]), 10, "excel topic")
    assert "Is there an EMEA price book for 2027?" in preview["text"]
    assert preview["slowest_unanswered"][0]["title"] == "Is there an EMEA price book for 2027?"

    assert_problem(analyst.post("/v1/insights/digest/send"), 403, "forbidden")
    sent = org.admin.post("/v1/insights/digest/send")
    assert sent.status_code == 202 and sent.json() == {"recipients": 1}, sent.text

    def digest_items():
        items = analyst.get("/v1/me/notifications").json()["items"]
        return [i for i in items if i["type"] == "insights.digest"] or None
    items = wait_until(digest_items, 10, "digest in the analyst's inbox")
    assert items[0]["data"]["title"] == preview["title"] and items[0]["thread_id"] == ""
    assert not [i for i in member.get("/v1/me/notifications").json()["items"] if i["type"] == "insights.digest"]


def test_imported_history_is_archived_not_routed(seeded):
    # Thread 4 is an open question created on 2026-03-01 and imported today: nobody is asked.
    resp = seeded["admin"].get(f"/v1/threads/{seeded['ids'][4]}/routing")
    assert resp.status_code in (200, 404), resp.text
    if resp.status_code == 200:
        assert resp.json()["assignments"] == [], resp.json()
    inbox = seeded["admin"].get("/v1/me/notifications").json()["items"]
    assert not [i for i in inbox if i["thread_id"] == seeded["ids"][4]]
