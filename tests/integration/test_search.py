"""Search: GET /v1/search, similar threads, suggestions and deflection,
tenant isolation of the index, index freshness after kill -9, and online
reindexing (see docs/search.md).

Read-your-writes: every search that must see a write passes the write's
X-Change-Seq as after_seq, so these tests do not sleep.
"""

import random
import string
import subprocess
import threading
import time
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
import requests

from support import (HTTP_TIMEOUT, PROBLEM_BASE, Api, Org, assert_problem, list_all,
                     post_answer, unique, wait_until)

# Words must be single Xapian terms: letters only (unique() has a hyphen).
_rng = random.SystemRandom()


def word(prefix="w", n=10):
    return prefix + "".join(_rng.choice(string.ascii_lowercase) for _ in range(n))


def seq_of(resp):
    return int(resp.headers["X-Change-Seq"])


def create(api, **fields):
    """POST /v1/threads; returns (thread, X-Change-Seq)."""
    body = {"title": unique("thread"), "body": "", "tags": []}
    body.update(fields)
    resp = api.post("/v1/threads", json=body)
    assert resp.status_code == 201, resp.text
    return resp.json(), seq_of(resp)


def search(api, **params):
    """One GET /v1/search page (validated against openapi.yaml); returns the body."""
    resp = api.get("/v1/search", params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()


def hit_ids(page):
    return [hit["thread_id"] for hit in page["results"]]


def search_all(api, **params):
    """Follow next_cursor to the end; returns the list of thread ids."""
    params = dict(params)
    params.setdefault("limit", 100)
    ids = []
    for _ in range(200):
        resp = api.get("/v1/search", params=params)
        assert resp.status_code == 200, resp.text
        page = resp.json()
        ids.extend(hit_ids(page))
        link = resp.headers.get("Link", "")
        if page["next_cursor"] is None:
            assert 'rel="next"' not in link, link
            assert len(ids) == len(set(ids)), "a thread appeared on two pages"
            return ids
        assert 'rel="next"' in link, link
        params["cursor"] = page["next_cursor"]
    raise AssertionError("search paging does not terminate")


def call_unlogged(api, method, path, json=None, params=None):
    """A request to an operation that appends no change-log event
    (POST /v1/threads/similar, POST /v1/admin/reindex).

    support.check_common requires X-Change-Seq on every 2xx POST; these two
    POSTs are documented without it. Everything else check_common does is
    done here too: no 5xx but 503, the response validated against
    openapi.yaml, problem+json rules for errors.
    """
    headers = {"Authorization": f"Bearer {api.token}"} if api.token else {}
    resp = api.session.request(method, api.server.base_url + path, json=json, params=params,
                               headers=headers, timeout=HTTP_TIMEOUT, allow_redirects=False)
    status = resp.status_code
    context = f"{method} {path} -> {status}"
    assert status < 500 or status == 503, f"{context}: server error {resp.text[:500]}"
    api.spec.check_response(method, urlsplit(resp.request.url).path, status, resp.headers,
                            resp.content)
    if status >= 400:
        problem = resp.json()
        assert problem.get("status") == status, f"{context}: problem.status mismatch"
        assert str(problem.get("type", "")).startswith(PROBLEM_BASE), problem
    return resp


def similar(api, title, body="", tags=None, limit=None):
    payload = {"title": title, "body": body}
    if tags is not None:
        payload["tags"] = tags
    params = {"limit": limit} if limit is not None else None
    resp = call_unlogged(api, "POST", "/v1/threads/similar", json=payload, params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()


# --------------------------------------------------------------------------
# Freshness: a write becomes searchable
# --------------------------------------------------------------------------

def test_write_is_searchable_with_after_seq(org):
    member, expert = org.add_user("member"), org.add_user("expert")
    w_title, w_body, w_answer, w_new = word("title"), word("body"), word("answer"), word("edit")
    thread, seq = create(member, title=f"Question about {w_title}", body=f"The {w_body} is late.")

    page = search(member, q=w_title, after_seq=seq)
    assert hit_ids(page) == [thread["id"]]
    hit = page["results"][0]
    assert hit["title"] == thread["title"]
    assert (hit["kind"], hit["status"], hit["answer_count"], hit["accepted"]) == (
        "question", "open", 0, False)
    assert hit["created_at"] == thread["created_at"]
    assert 0 < hit["score"] <= 100

    page = search(member, q=w_body, after_seq=seq)
    assert hit_ids(page) == [thread["id"]]
    assert f"<mark>{w_body}</mark>" in page["results"][0]["snippet"]

    # An answer's text is searchable and the hit shows the new answer count.
    resp = expert.post(f"/v1/threads/{thread['id']}/answers", json={"body": f"Use {w_answer}."})
    assert resp.status_code == 201, resp.text
    page = search(member, q=w_answer, after_seq=seq_of(resp))
    assert hit_ids(page) == [thread["id"]]
    assert (page["results"][0]["answer_count"], page["results"][0]["status"]) == (1, "answered")

    # An edit replaces the old title in the index.
    fetched = member.get(f"/v1/threads/{thread['id']}")
    resp = member.patch(f"/v1/threads/{thread['id']}", json={"title": f"Now about {w_new}"},
                        headers={"If-Match": fetched.headers["ETag"]})
    assert resp.status_code == 200, resp.text
    assert hit_ids(search(member, q=w_new, after_seq=seq_of(resp))) == [thread["id"]]
    assert hit_ids(search(member, q=f"title:{w_title}")) == []


def test_write_becomes_searchable_without_after_seq(org):
    w = word("poll")
    thread, _ = create(org.admin, title=f"Polling for {w}")
    found = wait_until(lambda: hit_ids(search(org.admin, q=w)), 5.0,
                       f"thread {thread['id']} to become searchable", interval=0.05)
    assert found == [thread["id"]]


def test_after_seq_beyond_the_log_answers_after_the_wait(org):
    thread, seq = create(org.admin, title=f"Far future {word()}")
    started = time.monotonic()
    page = search(org.admin, q=thread["title"], after_seq=seq + 1_000_000)
    elapsed = time.monotonic() - started
    assert hit_ids(page) == [thread["id"]]
    assert 1.5 <= elapsed < 10, f"after_seq wait took {elapsed:.2f}s (documented: up to 2 s)"


# --------------------------------------------------------------------------
# Query language and ranking
# --------------------------------------------------------------------------

def test_stemming_matches_other_word_forms(org):
    priced, seq = create(org.admin, title="How is the enterprise plan priced for resellers?")
    create(org.admin, title="Shipping times to Norway")
    assert hit_ids(search(org.admin, q="pricing", after_seq=seq)) == [priced["id"]]
    assert hit_ids(search(org.admin, q="prices reseller")) == [priced["id"]]


def test_phrase_query_and_title_field(org):
    w = word("ph")
    red_apple, _ = create(org.admin, title=f"Red apple pie {w}")
    apple_red, _ = create(org.admin, title=f"Apple pie with a red label {w}")
    in_title, _ = create(org.admin, title=f"Rollout plan {w}", body="Dates are in the sheet.")
    in_body, seq = create(org.admin, title=f"Quarterly forecast {w}", body="It mentions the rollout.")

    assert sorted(hit_ids(search(org.admin, q="red apple", after_seq=seq))) == sorted(
        [red_apple["id"], apple_red["id"]])
    assert hit_ids(search(org.admin, q='"red apple"')) == [red_apple["id"]]
    assert hit_ids(search(org.admin, q='"apple red"')) == []

    assert hit_ids(search(org.admin, q="title:rollout")) == [in_title["id"]]
    # Plain words find both; the title match ranks first (title weighted x3).
    assert hit_ids(search(org.admin, q="rollout")) == [in_title["id"], in_body["id"]]


def test_boolean_operators_exclusion_and_prefix(org):
    w = word("bool")
    oracle, _ = create(org.admin, title=f"Oracle licence audit {w}")
    sap, _ = create(org.admin, title=f"SAP licence renewal {w}")
    other, seq = create(org.admin, title=f"Travel expenses policy {w}")

    def found(q):
        return sorted(hit_ids(search(org.admin, q=q, after_seq=seq)))

    assert found(f"oracle OR sap") == sorted([oracle["id"], sap["id"]])
    assert found("oracle AND sap") == []
    assert found("licence NOT oracle") == [sap["id"]]
    assert found("licence -sap") == [oracle["id"]]
    assert found("licen*") == sorted([oracle["id"], sap["id"]])
    assert found("(oracle OR travel) AND licence") == [oracle["id"]]
    # Syntax errors fall back to the plain words instead of failing.
    assert found("oracle) OR (") == [oracle["id"]]
    assert found('"oracle licence') == [oracle["id"]]
    assert found(f"kind:question {w}") == sorted([oracle["id"], sap["id"], other["id"]])
    assert found(f"status:answered {w}") == []


def test_pure_exclusion_query_excludes(org):
    with_word, _ = create(org.admin, title="Database sizing for ACME")
    without, seq = create(org.admin, title="Shipping times to Norway")
    assert hit_ids(search(org.admin, q="NOT database", after_seq=seq)) == [without["id"]]
    assert hit_ids(search(org.admin, q="-database", after_seq=seq)) == [without["id"]]


def test_tag_field_and_tag_filter(org):
    w = word("tg")
    both, _ = create(org.admin, title=f"Licensing question {w}", tags=["oracle-db", "emea"])
    oracle_only, _ = create(org.admin, title=f"Another licensing question {w}", tags=["oracle-db"])
    sap, seq = create(org.admin, title=f"SAP question {w}", tags=["sap"])

    def found(**params):
        return sorted(hit_ids(search(org.admin, after_seq=seq, **params)))

    assert found(q="tag:oracle-db") == sorted([both["id"], oracle_only["id"]])
    assert found(q="tag:Oracle-DB") == sorted([both["id"], oracle_only["id"]])  # normalised
    assert found(q="tag:sap licensing") == []
    assert found(q="licensing", tag="oracle-db") == sorted([both["id"], oracle_only["id"]])
    assert found(tag=["oracle-db", "emea"]) == [both["id"]]      # repeated: all must match
    assert found(tag="ORACLE-DB") == sorted([both["id"], oracle_only["id"]])
    assert found(q=w, tag="sap") == [sap["id"]]
    assert found(tag="nothing-tagged-so") == []


def test_facets_count_the_matching_threads(org):
    admin, expert = org.admin, org.add_user("expert")
    a, _ = create(admin, tags=["alpha", "beta"], kind="question", region="EMEA", product="Core DB")
    b, _ = create(admin, tags=["alpha"], kind="tip", region="Emea", product="core db")
    c, _ = create(admin, tags=["beta", "gamma"], kind="complaint", region="APAC")
    d, _ = create(admin, tags=[], kind="feature_request", product="Edge")
    e, _ = create(admin, tags=["alpha"])
    f, _ = create(admin, tags=["gamma"], account="ACME")
    answer = post_answer(expert, e["id"])
    resp = admin.post(f"/v1/threads/{e['id']}/accept", json={"answer_id": answer["id"]})
    assert resp.status_code == 200, resp.text
    resp = expert.post(f"/v1/threads/{f['id']}/answers", json={"body": "Answered."})
    assert resp.status_code == 201, resp.text
    seq = seq_of(resp)

    page = search(admin, after_seq=seq)
    assert page["estimated_total"] == 6
    assert sorted(hit_ids(page)) == sorted(t["id"] for t in (a, b, c, d, e, f))
    assert page["facets"] == {
        "tag": {"alpha": 3, "beta": 2, "gamma": 2},
        "kind": {"question": 3, "tip": 1, "complaint": 1, "feature_request": 1},
        "status": {"open": 4, "resolved": 1, "answered": 1},
        "region": {"emea": 2, "apac": 1},
        "product": {"core db": 2, "edge": 1},
    }
    resolved = next(h for h in page["results"] if h["thread_id"] == e["id"])
    assert (resolved["status"], resolved["accepted"], resolved["answer_count"]) == (
        "resolved", True, 1)

    # Facets follow the filters, not the page.
    page = search(admin, tag="alpha", limit=1)
    assert len(page["results"]) == 1 and page["next_cursor"] is not None
    assert page["facets"] == {
        "tag": {"alpha": 3, "beta": 1},
        "kind": {"question": 2, "tip": 1},
        "status": {"open": 2, "resolved": 1},
        "region": {"emea": 2},
        "product": {"core db": 2},
    }
    assert sorted(hit_ids(search(admin, region="emea"))) == sorted([a["id"], b["id"]])
    assert hit_ids(search(admin, product=" CORE DB ", kind="tip")) == [b["id"]]
    assert hit_ids(search(admin, account="acme")) == [f["id"]]
    assert hit_ids(search(admin, status="answered")) == [f["id"]]
    assert hit_ids(search(admin, q="status:resolved")) == [e["id"]]
    assert hit_ids(search(admin, kind="complaint")) == [c["id"]]
    assert hit_ids(search(admin, author=admin.id, kind="feature_request")) == [d["id"]]


def test_sort_paging_and_date_range(org):
    admin, expert, voter = org.admin, org.add_user("expert"), org.add_user("member")
    w = word("srt")
    made = []
    for i in range(5):
        made.append(create(admin, title=f"Thread {i} {w}")[0])
        time.sleep(0.003)  # distinct created_at milliseconds, so "newest" has one answer
    answer = post_answer(expert, made[1]["id"])
    resp = voter.post(f"/v1/answers/{answer['id']}/vote", json={"value": 1})
    assert resp.status_code == 200, resp.text
    seq = seq_of(resp)

    newest = [t["id"] for t in reversed(made)]
    assert hit_ids(search(admin, q=w, sort="newest", after_seq=seq)) == newest
    assert hit_ids(search(admin, sort="relevance")) == newest          # empty q: newest first
    assert all(h["score"] == 0 for h in search(admin)["results"])
    assert hit_ids(search(admin, q=w, sort="votes"))[0] == made[1]["id"]

    paged = search_all(admin, q=w, sort="newest", limit=2)
    assert paged == newest

    day = made[0]["created_at"][:10]
    assert sorted(hit_ids(search(admin, q=w, **{"from": day, "to": day}))) == sorted(
        t["id"] for t in made)
    assert hit_ids(search(admin, q=w, **{"from": made[2]["created_at"],
                                         "to": made[3]["created_at"], "sort": "newest"})) == [
        made[3]["id"], made[2]["id"]]
    assert hit_ids(search(admin, q=w, to="2000-01-01")) == []


# --------------------------------------------------------------------------
# Did you mean
# --------------------------------------------------------------------------

def test_did_you_mean_for_a_misspelling(org):
    thread, seq = create(org.admin, title="Database migration checklist",
                         body="Steps to move the database to the new cluster.")
    page = search(org.admin, q="databse", after_seq=seq)
    assert page["results"] == []
    assert page["did_you_mean"] == "database"
    assert hit_ids(search(org.admin, q=page["did_you_mean"])) == [thread["id"]]
    assert search(org.admin, q="database")["did_you_mean"] is None   # nothing to correct


def test_did_you_mean_never_offers_another_orgs_words(make_org):
    a, b = make_org(), make_org()
    secret = word("quokka")
    misspelt = secret[:6] + secret[7:]            # one letter dropped
    _, seq = create(a.admin, title=f"Confidential {secret} project")
    create(b.admin, title="Quarterly planning")

    # Control: in A the dictionary offers the word.
    assert search(a.admin, q=misspelt, after_seq=seq)["did_you_mean"] == secret
    page = search(b.admin, q=misspelt, after_seq=seq)
    assert page["did_you_mean"] is None
    assert page["results"] == []


@pytest.mark.xfail(strict=True, reason=(
    "server bug (cross-tenant side channel): the spelling dictionary is shared, and a word that "
    "exists in another organisation can suppress the caller's own correction (with equal "
    "frequencies Xapian drops a correction that sorts after the existing word), so the missing "
    "suggestion reveals that some tenant uses that exact word"))
def test_did_you_mean_is_not_suppressed_by_another_orgs_words(make_org):
    a, b = make_org(), make_org()
    mine = word("platypus")
    while mine[-2] <= mine[-1]:                     # the typo must sort before the word
        mine = word("platypus")
    typo = mine[:-2] + mine[-1] + mine[-2]          # last two letters swapped
    _, seq = create(b.admin, title=f"About {mine}")
    assert search(b.admin, q=typo, after_seq=seq)["did_you_mean"] == mine   # control
    _, seq = create(a.admin, title=f"Notes on {typo}")
    # A's write must not change what B is offered.
    assert search(b.admin, q=typo, after_seq=seq)["did_you_mean"] == mine


# --------------------------------------------------------------------------
# Similar threads and deflection
# --------------------------------------------------------------------------

SSO_THREAD = dict(
    title="Customer cannot log in with single sign-on after their password expired",
    body="Acme uses Okta for SSO. Since the password expiry on Monday nobody can log in. "
         "How do we reset the SSO configuration for them?",
    tags=["sso", "okta"])
DISTRACTORS = [
    dict(title="Discount approval for deals above 50k", body="Who signs off a 30% discount?",
         tags=["pricing"]),
    dict(title="Shipping times for hardware to Norway", body="How long does delivery take?",
         tags=["logistics"]),
    dict(title="Does the product support SAML for login?", body="A prospect asks about SAML.",
         tags=["sso"]),
    dict(title="Password policy requirements for the admin console",
         body="What are the length rules for passwords?", tags=["security"]),
    dict(title="Quarterly pipeline review template", body="Where is the spreadsheet?",
         tags=["pipeline"]),
]


@pytest.fixture
def sso_org(org):
    """An org with one SSO thread and unrelated distractors, all indexed."""
    original, seq = create(org.admin, **SSO_THREAD)
    for fields in DISTRACTORS:
        _, seq = create(org.admin, **fields)
    assert original["id"] in hit_ids(search(org.admin, q="okta", after_seq=seq))
    return SimpleNamespace(org=org, original=original, seq=seq)


def test_similar_finds_a_reworded_duplicate(sso_org):
    admin = sso_org.org.admin
    got = similar(admin, "Okta single sign-on broken once the password expired",
                  body="Client says nobody can log in any more.", tags=["okta"])
    assert got["suggestion_id"]
    assert 1 <= len(got["items"]) <= 5
    assert got["items"][0]["thread_id"] == sso_org.original["id"]
    assert len(similar(admin, "password", limit=1)["items"]) == 1
    assert len(similar(admin, "password login discount shipping pipeline", limit=50)["items"]) <= 20


def test_similar_limit_is_checked(sso_org):
    resp = call_unlogged(sso_org.org.admin, "POST", "/v1/threads/similar",
                         json={"title": "x"}, params={"limit": 0})
    assert_problem(resp, 400, "malformed-request")
    resp = call_unlogged(sso_org.org.admin, "POST", "/v1/threads/similar",
                         json={"title": "x", "nope": 1})
    assert_problem(resp, 422, "validation")


def test_create_thread_returns_similar_threads(sso_org):
    admin = sso_org.org.admin
    body = {"title": "SSO login fails for Acme after the Okta password expiry",
            "body": "Nobody at the customer can log in with single sign-on.", "tags": ["sso"]}
    key = unique("idem")
    resp = admin.post("/v1/threads", json=body, headers={"Idempotency-Key": key})
    assert resp.status_code == 201, resp.text
    created = resp.json()
    ids = [hit["thread_id"] for hit in created["similar"]]
    assert len(ids) <= 5
    assert ids and ids[0] == sso_org.original["id"]
    assert created["id"] not in ids

    # An idempotent replay returns the stored original body: a Thread without `similar`.
    replay = admin.post("/v1/threads", json=body, headers={"Idempotency-Key": key})
    assert replay.status_code == 201, replay.text
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert "similar" not in replay.json()
    assert replay.json()["id"] == created["id"]


def test_resolving_a_suggestion(sso_org, make_org):
    org = sso_org.org
    alice, bob = org.add_user("member"), org.add_user("member")
    got = similar(alice, "Okta password expired, customer locked out of SSO")
    suggested = [hit["thread_id"] for hit in got["items"]]
    assert sso_org.original["id"] in suggested
    path = f"/v1/suggestions/{got['suggestion_id']}/resolved"

    # Another user of the same org, or of another org, cannot see the suggestion.
    assert_problem(bob.post(path, json={"thread_id": suggested[0]}), 404, "not-found")
    outsider = make_org().admin
    assert_problem(outsider.post(path, json={"thread_id": suggested[0]}), 404, "not-found")
    # Only a thread that was suggested can resolve it.
    not_suggested, _ = create(alice, title=unique("unrelated"))
    problem = assert_problem(alice.post(path, json={"thread_id": not_suggested["id"]}), 422,
                             "validation")
    assert any(e["pointer"] == "#/thread_id" for e in problem.get("errors", []))
    assert_problem(alice.post(f"/v1/suggestions/{unique('s')}/resolved",
                              json={"thread_id": suggested[0]}), 404, "not-found")

    resp = alice.post(path, json={"thread_id": sso_org.original["id"]})
    assert resp.status_code == 200, resp.text
    resolved = resp.json()
    assert resolved["id"] == got["suggestion_id"]
    assert resolved["thread_ids"] == suggested
    assert resolved["resolved_thread_id"] == sso_org.original["id"]
    seq = seq_of(resp)

    # The resolution is in the change log (admin) as suggestion.resolved.
    events = org.admin.get("/v1/events", params={"after": seq - 1, "limit": 1}).json()["items"]
    assert [(e["seq"], e["type"], e["thread_id"], e["actor_id"]) for e in events] == [
        (seq, "suggestion.resolved", sso_org.original["id"], alice.id)]

    # Resolving again changes nothing; bob still gets 404.
    again = alice.post(path, json={"thread_id": suggested[-1]})
    assert again.status_code == 200, again.text
    assert again.json()["resolved_thread_id"] == sso_org.original["id"]
    assert_problem(bob.post(path, json={"thread_id": suggested[0]}), 404, "not-found")


# --------------------------------------------------------------------------
# Tenant isolation
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tenants(root):
    a, b = Org(root), Org(root)
    a_user, b_user = a.add_user("member"), b.add_user("member")
    w1, w2, tag = word("alpha"), word("beta"), unique("secret")
    t1, _ = create(a_user, title=f"{w1} apple strategy", body=f"{w2} details", tags=[tag])
    t2, _ = create(a_user, title=f"aardvark {w2}", tags=[tag])
    b_thread, seq = create(b_user, title="avocado salad recipe", tags=["food"])
    a_page = search(a_user, q=w2, limit=1, after_seq=seq)
    assert a_page["next_cursor"] is not None
    return SimpleNamespace(a=a, b=b, a_user=a_user, b_user=b_user, w1=w1, w2=w2, tag=tag,
                           a_ids={t1["id"], t2["id"]}, b_thread=b_thread, seq=seq,
                           a_cursor=a_page["next_cursor"])


def test_tenants_positive_control(tenants):
    assert set(search_all(tenants.a_user, q=tenants.w2, after_seq=tenants.seq)) == tenants.a_ids
    assert set(search_all(tenants.a_user, q=f"tag:{tenants.tag}")) == tenants.a_ids
    assert set(search_all(tenants.a_user, q="a*")) == tenants.a_ids
    assert set(search_all(tenants.a_user, q=f"author:{tenants.a_user.id}")) == tenants.a_ids
    assert set(search_all(tenants.a_user, tag=tenants.tag)) == tenants.a_ids


@pytest.mark.parametrize("make_params", [
    lambda t: {"q": t.w1},
    lambda t: {"q": t.w2},
    lambda t: {"q": f"{t.w1}) OR ({t.w2}"},
    lambda t: {"q": f"{t.w1} OR {t.w2} OR avocado"},
    lambda t: {"q": f'"{t.w1} apple"'},
    lambda t: {"q": f"title:{t.w1}"},
    lambda t: {"q": f"tag:{t.tag}"},
    lambda t: {"q": f"tag:{t.tag} OR avocado"},
    lambda t: {"q": f"author:{t.a_user.id}"},
    lambda t: {"q": f"author:{t.a_user.id} OR salad"},
    lambda t: {"q": "a*"},
    lambda t: {"q": f"{t.w1[:6]}*"},
    lambda t: {"q": "NOT avocado"},
    lambda t: {"q": sorted(t.a_ids)[0]},
    lambda t: {"q": f"{t.w1}\" OR \"avocado"},
    lambda t: {"q": "*"},
    lambda t: {},
    lambda t: {"tag": t.tag},
    lambda t: {"author": t.a_user.id},
    lambda t: {"q": t.w2, "sort": "newest"},
    lambda t: {"q": "aardvark", "sort": "votes"},
], ids=["word1", "word2", "paren-injection", "or", "phrase", "title-field", "tag-field",
        "tag-field-or", "author-field", "author-field-or", "wildcard-a", "wildcard-prefix",
        "pure-not", "thread-id", "quote-injection", "star", "empty", "tag-param",
        "author-param", "newest", "votes"])
def test_other_org_sees_nothing(tenants, make_params):
    params = make_params(tenants)
    found = search_all(tenants.b_user, after_seq=tenants.seq, **params)
    assert not set(found) & tenants.a_ids, f"org B found org A's threads with {params}"
    assert set(found) <= {tenants.b_thread["id"]}
    page = search(tenants.b_user, **params)
    assert tenants.tag not in page["facets"]["tag"]
    assert page["estimated_total"] <= 1
    assert page["did_you_mean"] is None or tenants.w1 not in page["did_you_mean"]


def test_other_org_wildcard_finds_only_its_own(tenants):
    assert search_all(tenants.b_user, q="a*", after_seq=tenants.seq) == [tenants.b_thread["id"]]
    assert search_all(tenants.b_user) == [tenants.b_thread["id"]]


def test_wildcard_is_not_crowded_out_by_another_org(make_org):
    a, b = make_org(), make_org()
    prefix = word("wq", 4)
    noise = " ".join(prefix + word("", 6) for _ in range(250))
    for _ in range(3):                      # A's words: 3 documents each, B's: 1
        create(a.admin, title="filler", body=noise)
    mine, seq = create(b.admin, title=f"{prefix}avocado recipe")
    assert hit_ids(search(b.admin, q=f"{prefix}av*", after_seq=seq)) == [mine["id"]]
    assert hit_ids(search(b.admin, q=f"{prefix}*")) == [mine["id"]]


def test_cursor_of_another_org_is_invalid(tenants):
    resp = tenants.b_user.get("/v1/search", params={"q": tenants.w2, "limit": 1,
                                                    "cursor": tenants.a_cursor})
    assert_problem(resp, 400, "invalid-cursor")
    resp = tenants.b_user.get("/v1/search", params={"cursor": tenants.a_cursor})
    assert_problem(resp, 400, "invalid-cursor")
    # The cursor still works for its own org and query.
    page = search(tenants.a_user, q=tenants.w2, limit=1, cursor=tenants.a_cursor)
    assert len(page["results"]) == 1


def test_cursor_is_bound_to_the_query(tenants):
    resp = tenants.a_user.get("/v1/search", params={"q": tenants.w1, "limit": 1,
                                                    "cursor": tenants.a_cursor})
    assert_problem(resp, 400, "invalid-cursor")


def test_similar_in_other_org_suggests_nothing_of_it(tenants):
    got = similar(tenants.b_user, f"{tenants.w1} apple strategy", body=tenants.w2,
                  tags=[tenants.tag])
    assert not {hit["thread_id"] for hit in got["items"]} & tenants.a_ids


# --------------------------------------------------------------------------
# Bad parameters and permissions
# --------------------------------------------------------------------------

@pytest.mark.parametrize("params", [
    {"sort": "x"},
    {"sort": ""},
    {"limit": 0},
    {"limit": 101},
    {"limit": "ten"},
    {"from": "garbage"},
    {"from": "2026-13-01"},
    {"to": "2026-11-24T10:00:00+01:00"},
    {"after_seq": -1},
    {"after_seq": "soon"},
    {"kind": "rant"},
    {"status": "pending"},
    {"tag": "no spaces!"},
    {"q": "x" * 1001},
    {"from": "2026-11-02", "to": "2026-11-01"},
], ids=["sort-x", "sort-empty", "limit-0", "limit-101", "limit-word", "from-garbage",
        "from-month-13", "to-offset", "after_seq-negative", "after_seq-word", "kind", "status",
        "tag", "q-too-long", "from-after-to"])
def test_bad_search_parameters_are_400(org, params):
    assert_problem(org.admin.get("/v1/search", params=params), 400, "malformed-request")


def test_garbage_cursor_is_400(org):
    assert_problem(org.admin.get("/v1/search", params={"cursor": "garbage"}), 400,
                   "invalid-cursor")


def test_search_needs_a_user_token(root, anon, org):
    assert anon.get("/v1/search").status_code == 401
    assert_problem(root.get("/v1/search"), 403, "forbidden")


def test_reindex_needs_the_root_token(org, anon):
    for api in (org.admin, anon):
        for method in ("GET", "POST"):
            resp = call_unlogged(api, method, "/v1/admin/reindex")
            assert resp.status_code == (403 if api is org.admin else 401), resp.text


# --------------------------------------------------------------------------
# kill -9 while writes are being indexed
# --------------------------------------------------------------------------

class Writers:
    """Threads that create threads carrying `marker` (title word and tag) and
    remember every acknowledged one with its X-Change-Seq."""

    def __init__(self, server, spec, marker, count=3):
        self.server, self.spec, self.marker = server, spec, marker
        self.lock = threading.Lock()
        self.acked = {}
        self.errors = []
        self.stop = threading.Event()
        self.workers = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(count)]

    def _run(self, index):
        api = Api(self.server, self.spec, self.server.admin_token)
        n = 0
        while not self.stop.is_set():
            n += 1
            body = {"title": f"{self.marker} writer {index} item {n}",
                    "body": "filler text " * 50, "tags": [self.marker]}
            try:
                resp = api.post("/v1/threads", json=body, timeout=5)
            except requests.RequestException:
                if self.stop.is_set():
                    return
                time.sleep(0.01)
                continue
            except AssertionError as exc:
                self.errors.append(str(exc))
                continue
            if resp.status_code == 201:
                with self.lock:
                    self.acked[resp.json()["id"]] = seq_of(resp)
            elif resp.status_code != 503:
                self.errors.append(f"{resp.status_code}: {resp.text[:300]}")

    def __enter__(self):
        for w in self.workers:
            w.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for w in self.workers:
            w.join(timeout=30)

    def count(self):
        with self.lock:
            return len(self.acked)

    def snapshot(self):
        with self.lock:
            return dict(self.acked)


def test_kill_9_while_indexing_keeps_every_acknowledged_write(own_server, spec):
    admin = Api(own_server, spec, own_server.admin_token)
    for cycle in range(3):
        marker = word("crash")
        writers = Writers(own_server, spec, marker)
        with writers:
            wait_until(lambda: writers.count() >= 40 + 20 * cycle, 30.0, "acknowledged writes")
            own_server.kill()
        assert not writers.errors, writers.errors[:3]
        acked = writers.snapshot()
        own_server.start()

        last = max(acked.values())
        found = set(search_all(admin, q=marker, after_seq=last))
        missing = set(acked) - found
        assert not missing, f"cycle {cycle}: {len(missing)} acknowledged threads not found"
        stored = {t["id"] for t in list_all(admin, "/v1/threads", params={"tag": marker},
                                            limit=100)[0]}
        assert set(acked) <= stored
        assert found <= stored, f"cycle {cycle}: search found threads the store does not have"
        assert len(stored - set(acked)) <= len(writers.workers), "more than the in-flight writes"

        # Once the index has passed a fresh write it matches the store exactly.
        _, fresh = create(admin, title=unique("after-crash"))
        assert set(search_all(admin, q=marker, after_seq=fresh)) == stored
        assert set(search_all(admin, q=f"tag:{marker}")) == stored


# --------------------------------------------------------------------------
# Reindex while serving
# --------------------------------------------------------------------------

SEED_THREADS = 300


def _seed(api_factory, marker, n, workers=4):
    out, lock, errors = {}, threading.Lock(), []

    def run(k):
        api = api_factory()
        for i in range(k, n, workers):
            try:
                thread, seq = create(api, title=f"{marker} seeded thread {i}",
                                     body=f"Seed body {i} about widgets and gadgets.",
                                     tags=["seeded"])
            except AssertionError as exc:
                errors.append(str(exc))
                return
            with lock:
                out[thread["id"]] = seq

    pool = [threading.Thread(target=run, args=(k,)) for k in range(workers)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert not errors, errors[:3]
    return out


class Searcher(threading.Thread):
    """Searches continuously; every search must answer 200 with all `expected` ids."""

    def __init__(self, api, marker, expected):
        super().__init__(daemon=True)
        self.api, self.marker, self.expected = api, marker, expected
        self.stop = threading.Event()
        self.done = 0
        self.failures = []

    def run(self):
        while not self.stop.is_set():
            try:
                found = set(search_all(self.api, q=self.marker))
                page = search(self.api, q="widgets gadgets", tag="seeded", limit=100)
            except (AssertionError, requests.RequestException) as exc:
                self.failures.append(str(exc)[:500])
                continue
            if not self.expected <= found:
                self.failures.append(f"{len(self.expected - found)} seeded threads missing")
            if len(page["results"]) != 100 or page["next_cursor"] is None:
                self.failures.append(f"short page: {len(page['results'])} results")
            self.done += 1


def _wait_for_reindex(root, deadline=60.0):
    def state():
        resp = call_unlogged(root, "GET", "/v1/admin/reindex")
        assert resp.status_code == 200, resp.text
        status = resp.json()
        assert status["state"] in ("running", "done"), status
        return status if status["state"] == "done" else None

    return wait_until(state, deadline, "reindex state done", interval=0.05)


def test_reindex_while_serving(own_server, spec):
    admin = Api(own_server, spec, own_server.admin_token)
    root = Api(own_server, spec, own_server.root_token)
    marker = word("reidx")

    status = call_unlogged(root, "GET", "/v1/admin/reindex")
    assert status.status_code == 200 and status.json()["state"] == "idle", status.text

    seeded = _seed(lambda: Api(own_server, spec, own_server.admin_token), marker, SEED_THREADS)
    expected = set(seeded)
    assert set(search_all(admin, q=marker, after_seq=max(seeded.values()))) == expected

    searcher = Searcher(Api(own_server, spec, own_server.admin_token), marker, expected)
    writers = Writers(own_server, spec, marker, count=2)
    conflicts = 0
    searcher.start()
    with writers:
        for _ in range(3):
            started = call_unlogged(root, "POST", "/v1/admin/reindex")
            assert started.status_code == 202, started.text
            assert started.json()["state"] == "running"
            again = call_unlogged(root, "POST", "/v1/admin/reindex")
            if again.status_code == 409:
                conflicts += 1
                assert_problem(again, 409, "conflict")
            else:
                assert again.status_code == 202, again.text
            done = _wait_for_reindex(root)
            assert done["error"] is None
            assert done["done"] == done["total"] >= SEED_THREADS
            assert done["seconds"] > 0

        # The CLI talks to the running server and prints a progress bar.
        env = {"STREETWISE_ROOT_TOKEN": own_server.root_token, "PATH": "/usr/bin:/bin"}
        cli = subprocess.run([str(own_server.binary), "reindex", "--data", str(own_server.data_dir)],
                             env=env, capture_output=True, text=True, timeout=120)
        assert cli.returncode == 0, cli.stderr
        assert "reindex done" in cli.stderr, cli.stderr
        assert "threads" in cli.stderr and "[" in cli.stderr, cli.stderr
        time.sleep(0.3)  # let a few more writes land after the last rebuild
    searcher.stop.set()
    searcher.join(timeout=60)

    assert not writers.errors, writers.errors[:3]
    assert not searcher.failures, (
        f"{len(searcher.failures)} of {searcher.done + len(searcher.failures)} searches during "
        f"the rebuilds failed: {searcher.failures[:3]}")
    assert searcher.done > 0
    assert conflicts >= 1, "a second POST /v1/admin/reindex during a rebuild never got 409"

    final = _wait_for_reindex(root)
    assert final["state"] == "done"
    written = writers.snapshot()
    assert written, "no writes happened during the rebuilds"
    everything = expected | set(written)
    found = set(search_all(admin, q=marker, after_seq=max(written.values())))
    lost = everything - found
    assert not lost, (
        f"after the rebuilds {len(lost)} of {len(everything)} acknowledged threads are missing "
        f"from search ({len(lost & set(written))} of the {len(written)} written during rebuilds)")
