"""Recurring topics and trending words over real HTTP: reworded requests for one capability land in
one topic with hand-counted threads, accounts and growth, on imported orgs with known timestamps;
CSV, roles, parameter errors, tenancy, and a live write found with after_seq."""

from __future__ import annotations

import csv
import datetime
import io
import json

import pytest

from conftest import _binary
from support import Api, ServerProcess, assert_problem, create_thread, run_cli, unique, wait_until

PERIOD = {"from": "2026-03-01", "to": "2026-03-10"}  # the previous period: 2026-02-19 .. 02-28

# (key, kind, title, body, account, tags, date)
ORG_A = [
    # One capability, three wordings: only a chain of shared words links the first and the third.
    ("sso1", "feature_request", "Single sign-on with Okta",
     "Acme needs SSO through Okta for every sales rep before they sign.", "Acme", ["sso"], "2026-03-02"),
    ("sso2", "feature_request", "SAML login for the customer portal",
     "Globex security requires SAML 2.0 single sign-on; their identity provider is Okta.", "Globex", ["sso"],
     "2026-03-03"),
    ("sso3", "feature_request", "Log in through the corporate identity provider",
     "Initech wants staff to authenticate with SAML instead of separate passwords.", "Initech", ["sso"],
     "2026-03-05"),
    ("exp1", "feature_request", "Export reports to Excel",
     "The finance team wants to download the monthly report as an Excel file.", "Umbrella", [], "2026-03-02"),
    ("exp2", "feature_request", "CSV export of order history",
     "Please let customers export their order history to CSV.", "umbrella ", [], "2026-03-04"),
    ("exp3", "feature_request", "Download a table as a spreadsheet",
     "Hooli asks for a button that exports any table to CSV or Excel.", "Hooli", [], "2026-03-06"),
    ("dark", "feature_request", "Dark mode for the mobile app",
     "Field reps use the app at night and want a darker theme.", "Stark", [], "2026-03-07"),
    ("ship", "feature_request", "Faster delivery to Norway",
     "Shipments to Oslo take three weeks; a regional warehouse would help.", "Wayne", [], "2026-03-08"),
    # The previous period: one SSO request.
    ("old-sso", "feature_request", "Okta single sign-on", "Vandelay wants SSO with Okta and SAML.", "Vandelay",
     ["sso"], "2026-02-25"),
    # A question in the period: not a feature request.
    ("q1", "question", "Does the SAML single sign-on work with Okta?", "A question, not a request.", "Acme", [],
     "2026-03-04"),
]
# The org's everyday questions from January: the background against which words are common or rare.
EVERYDAY = [
    ("Discount for a three-year deal", "The customer wants a bigger discount if they sign through the partner."),
    ("Lead time for Spain", "Our rep needs the delivery lead time before the customer signs."),
    ("Who owns the Globex renewal?", "The customer wants to talk through the renewal terms with the team."),
    ("Is there a reference customer in retail?", "The rep needs a reference the customer can call this week."),
    ("Payment terms net 60", "Procurement wants net 60; can the team approve it through the deal desk?"),
    ("Onboarding timeline", "How long does onboarding take for a customer with 500 users?"),
    ("Price increase letter", "The customer asks why the price went up and wants the letter from the team."),
    ("Support hours in APAC", "The customer needs support through the night for their Sydney office."),
    ("Competitor offer", "A competitor offered a lower price; the rep wants help with the answer."),
    ("Invoice in euros", "The customer wants the invoice in euros with the purchase order number."),
    ("Contract renewal date", "When does the Initech contract renew, and who on the team handles it?"),
    ("Training for new users", "The customer wants training for new users through a live session."),
]
ORG_A += [(f"bg{i}", "question", t, b, "Acme", [], f"2026-01-{i + 2:02d}") for i, (t, b) in enumerate(EVERYDAY)]

# A second organisation asking for the same thing in the same period: never counted for org A.
ORG_B = [
    ("b-sso1", "feature_request", "Single sign-on with Okta", "We need SSO with Okta and SAML.", "Zeta", ["sso"],
     "2026-03-03"),
    ("b-sso2", "feature_request", "Okta SAML SSO", "Please add single sign-on through Okta.", "Eta", ["sso"],
     "2026-03-04"),
    ("b-q1", "question", "Price list for 2027", "When does the new price list come out?", "Eta", [], "2026-01-05"),
    ("b-q2", "question", "Warehouse in Lyon", "Can we ship from the Lyon warehouse?", "Zeta", [], "2026-01-06"),
    ("b-q3", "question", "Renewal discount", "Which discount applies to a two-year renewal?", "Eta", [],
     "2026-01-07"),
]


def thread_line(n, key, author, kind, title, body, account, tags, date):
    created = f"{date}T09:00:00.000Z"
    return {"type": "thread", "id": f"t-topics-{n}", "title": f"{title} [{key}]", "body": body, "tags": tags,
            "kind": kind, "author_id": author, "account": account, "created_at": created, "updated_at": created,
            "version": 1, "revision": 1, "status": "open", "answers": [], "comments": [],
            "revisions": [{"revision": 1, "title": f"{title} [{key}]", "body": body, "tags": tags,
                           "editor_id": author, "created_at": created}]}


def import_org(srv, tmp_path_factory, template, threads):
    """Imports `threads` as a new org (export format, known timestamps); returns (admin Api, key -> id)."""
    lines = [json.loads(x) for x in template.read_text().splitlines()]
    header, users = lines[0], [x for x in lines if x["type"] == "user"]
    author = users[0]["id"]
    body = [thread_line(n, *t[:1], author, *t[1:]) for n, t in enumerate(threads)]
    seed = tmp_path_factory.mktemp("topics-seed") / "org.jsonl"
    seed.write_text("\n".join(json.dumps(x) for x in [header, *users, *body,
                                                     {"type": "end", "users": len(users), "threads": len(body)}]) + "\n")
    return json.loads(run_cli(srv, "import", seed, "--data", srv.data_dir).stdout)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, spec):
    data = tmp_path_factory.mktemp("topics-data")
    srv = ServerProcess(_binary(), data, data.parent / f"{data.name}.log").start()
    try:
        root = Api(srv, spec, srv.root_token)
        created = root.post("/v1/orgs", json={"name": unique("Topics Co"), "admin_name": "Topics admin"})
        assert created.status_code == 201, created.text
        srv.stop()
        template = tmp_path_factory.mktemp("topics-export") / "org.jsonl"
        run_cli(srv, "export", "--org", created.json()["org"]["id"], "--out", template, "--data", srv.data_dir)
        a = import_org(srv, tmp_path_factory, template, ORG_A)
        b = import_org(srv, tmp_path_factory, template, ORG_B)
        srv.start()
        orgs = {}
        for name, result, threads in (("a", a, ORG_A), ("b", b, ORG_B)):
            admin = Api(srv, spec, result["admin_token"])
            ids = {}
            for t in admin.get("/v1/threads", params={"limit": 100}).json()["items"]:
                ids[t["title"].rsplit("[", 1)[1].rstrip("]")] = t["id"]
            assert len(ids) == len(threads)
            orgs[name] = dict(admin=admin, ids=ids)
        # The index applies the imported threads after start-up: wait for them (no sleeping).
        for org, expected in ((orgs["a"], 8), (orgs["b"], 2)):
            wait_until(lambda: topics(org["admin"], kind="feature_request")["threads_in_period"] == expected, 15,
                       "imported threads in the search index")
        yield dict(server=srv, a=orgs["a"], b=orgs["b"])
    finally:
        srv.kill()


def topics(api, **params):
    resp = api.get("/v1/insights/topics", params=dict(PERIOD, **params))
    assert resp.status_code == 200, resp.text
    return resp.json()


def trending(api, **params):
    resp = api.get("/v1/insights/trending", params=dict(PERIOD, **params))
    assert resp.status_code == 200, resp.text
    return resp.json()


def topic_of(body, thread_id):
    found = [t for t in body["topics"] if thread_id in t["example_thread_ids"]]
    assert len(found) == 1, body
    return found[0]


def test_reworded_requests_for_one_capability_form_one_topic(seeded):
    a = seeded["a"]
    ids = a["ids"]
    body = topics(a["admin"], kind="feature_request")
    assert body["period"] == {"from": "2026-03-01T00:00:00.000Z", "to": "2026-03-10T23:59:59.999Z"}
    assert body["previous_period"] == {"from": "2026-02-19T00:00:00.000Z", "to": "2026-02-28T23:59:59.999Z"}
    assert body["kind"] == "feature_request"
    assert body["threads_in_period"] == 8 and body["sampled_threads"] == 8
    assert len(body["topics"]) == 2, body

    sso = topic_of(body, ids["sso1"])
    assert set(sso["example_thread_ids"]) == {ids["sso1"], ids["sso2"], ids["sso3"]}
    assert sso["threads"] == 3 and sso["accounts"] == 3
    assert sso["previous_threads"] == 1 and sso["growth"] == pytest.approx(2.0)  # 1 -> 3
    assert set(sso["terms"]) & {"okta", "saml", "sso", "single", "sign", "identity", "provider"}
    assert sso["label"] == ", ".join(sso["terms"])

    export = topic_of(body, ids["exp1"])
    assert set(export["example_thread_ids"]) == {ids["exp1"], ids["exp2"], ids["exp3"]}
    assert export["threads"] == 3
    assert export["accounts"] == 2  # "Umbrella" and "umbrella " are one account
    assert export["previous_threads"] == 0 and export["growth"] is None
    assert set(export["terms"]) & {"export", "csv", "excel", "spreadsheet", "download"}

    # The unrelated requests, the question and the older request are in no topic of the period.
    examples = {i for t in body["topics"] for i in t["example_thread_ids"]}
    assert not examples & {ids["dark"], ids["ship"], ids["q1"], ids["old-sso"]}
    assert topics(a["admin"], kind="feature_request", limit=1)["topics"] == [body["topics"][0]]


def test_kind_and_period_restrict_the_threads(seeded):
    admin = seeded["a"]["admin"]
    everything = topics(admin)  # every kind: the question joins the SSO requests
    assert everything["kind"] is None and everything["threads_in_period"] == 9
    sso = topic_of(everything, seeded["a"]["ids"]["sso1"])
    assert sso["threads"] == 4
    earlier = topics(admin, **{"from": "2026-02-19", "to": "2026-02-28"}, kind="feature_request")
    assert earlier["threads_in_period"] == 1 and earlier["topics"] == []
    empty = topics(admin, **{"from": "2025-01-01", "to": "2025-01-31"})
    assert empty["threads_in_period"] == 0 and empty["topics"] == []


def test_another_organisations_threads_never_count(seeded):
    a, b = seeded["a"], seeded["b"]
    # Org B asks for SSO in the same days; org A's SSO topic still counts only its own three.
    sso = topic_of(topics(a["admin"], kind="feature_request"), a["ids"]["sso1"])
    assert sso["threads"] == 3 and sso["accounts"] == 3
    assert not set(sso["example_thread_ids"]) & set(b["ids"].values())
    mine = topics(b["admin"], kind="feature_request")
    assert mine["threads_in_period"] == 2
    assert [set(t["example_thread_ids"]) for t in mine["topics"]] == [{b["ids"]["b-sso1"], b["ids"]["b-sso2"]}]
    assert mine["topics"][0]["threads"] == 2 and mine["topics"][0]["accounts"] == 2
    tag = [i for i in trending(a["admin"], limit=50)["items"] if i["type"] == "tag" and i["value"] == "sso"]
    assert tag and tag[0]["count"] == 3  # not 5


def test_trending_words_and_tags_against_the_previous_period(seeded):
    body = trending(seeded["a"]["admin"], limit=50)
    assert body["threads_in_period"] == 9 and body["previous_threads"] == 1 and body["sampled_threads"] == 9
    assert body["previous_period"] == {"from": "2026-02-19T00:00:00.000Z", "to": "2026-02-28T23:59:59.999Z"}
    items = {(i["type"], i["value"]): i for i in body["items"]}
    assert items[("tag", "sso")]["count"] == 3 and items[("tag", "sso")]["previous_count"] == 1
    assert items[("tag", "sso")]["growth"] == pytest.approx(2.0)
    # Words counted exactly: "export" in exp1 and exp2 ("exports" is another word), none before.
    assert items[("term", "export")]["count"] == 2 and items[("term", "export")]["previous_count"] == 0
    assert items[("term", "export")]["growth"] is None
    assert ("term", "sso") not in items  # a candidate tag's word is reported as the tag
    assert all(i["count"] > i["previous_count"] and i["count"] >= 2 for i in body["items"])
    assert len(trending(seeded["a"]["admin"], limit=2)["items"]) == 2


def test_csv_parses_with_a_standard_reader(seeded):
    admin = seeded["a"]["admin"]
    body = topics(admin, kind="feature_request")
    resp = admin.get("/v1/insights/topics", params=dict(PERIOD, kind="feature_request"), headers={"Accept": "text/csv"})
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert [r["label"] for r in rows] == [t["label"] for t in body["topics"]]
    for row, t in zip(rows, body["topics"]):
        assert row["threads"] == str(t["threads"]) and row["accounts"] == str(t["accounts"])
        assert row["previous_threads"] == str(t["previous_threads"])
        assert row["growth"] == ("" if t["growth"] is None else f"{t['growth']:.4f}")
        assert row["example_thread_ids"].split(" ") == t["example_thread_ids"]
        assert row["terms"].split(" ") == t["terms"]

    items = trending(admin, limit=50)["items"]
    resp = admin.get("/v1/insights/trending", params=dict(PERIOD, limit=50), headers={"Accept": "text/csv"})
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert [(r["type"], r["value"], r["count"], r["previous_count"]) for r in rows] == [
        (i["type"], i["value"], str(i["count"]), str(i["previous_count"])) for i in items]


def test_topics_and_trending_are_for_admins_and_analysts_only(org):
    analyst = org.add_user("analyst")
    member = org.add_user("member")
    expert = org.add_user("expert")
    for path in ("/v1/insights/topics", "/v1/insights/trending"):
        assert analyst.get(path).status_code == 200
        assert org.admin.get(path).status_code == 200
        for who in (member, expert):
            assert_problem(who.get(path), 403, "forbidden")
            # Forbidden before the parameters are looked at.
            assert_problem(who.get(path, params={"from": "nonsense"}), 403, "forbidden")


@pytest.mark.parametrize("params, detail", [
    ({"from": "2026-03-10", "to": "2026-03-01"}, "from must not be after to"),
    ({"from": "2025-01-01", "to": "2026-03-01"}, "must not be longer than 366 days"),
    ({"from": "yesterday"}, "from must be YYYY-MM-DD"),
    ({"to": "2026-13-01"}, "to must be YYYY-MM-DD"),
    ({"limit": "0"}, "limit must be an integer from 1 to 50"),
    ({"limit": "51"}, "limit must be an integer from 1 to 50"),
    ({"after_seq": "-1"}, "after_seq must be an integer"),
])
def test_bad_parameters_are_precise_400s(org, params, detail):
    for path in ("/v1/insights/topics", "/v1/insights/trending"):
        problem = assert_problem(org.admin.get(path, params=params), 400, "malformed-request")
        assert detail in problem["detail"], problem
    problem = assert_problem(org.admin.get("/v1/insights/topics", params={"kind": "wish"}), 400, "malformed-request")
    assert "kind must be" in problem["detail"]


def test_a_period_of_366_days_is_accepted(org):
    assert topics(org.admin, **{"from": "2025-03-10", "to": "2026-03-09"})["topics"] == []


def test_live_requests_are_grouped_by_default_over_the_last_30_days(org):
    member = org.add_user("member")
    for title, body in EVERYDAY:
        create_thread(member, title=title, body=body)
    seq = 0
    for key, kind, title, body, account, tags, _ in ORG_A[:8]:
        resp = member.post("/v1/threads", json={"title": title, "body": body, "kind": kind, "account": account,
                                                "tags": tags})
        assert resp.status_code == 201, resp.text
        seq = int(resp.headers["X-Change-Seq"])
    body = topics(org.admin, kind="feature_request", after_seq=seq, **{"from": None, "to": None})
    now = datetime.datetime.now(datetime.timezone.utc)
    to = datetime.datetime.fromisoformat(body["period"]["to"].replace("Z", "+00:00"))
    frm = datetime.datetime.fromisoformat(body["period"]["from"].replace("Z", "+00:00"))
    assert abs((now - to).total_seconds()) < 60 and to - frm == datetime.timedelta(days=30)
    assert body["threads_in_period"] == 8
    assert sorted(t["threads"] for t in body["topics"]) == [3, 3]
