"""Health probes, authentication, roles and API tokens."""

import secrets
import stat

import pytest

from support import assert_problem, list_all, unique


def assert_unauthenticated(resp):
    assert_problem(resp, 401, "unauthenticated")
    challenge = resp.headers.get("WWW-Authenticate", "")
    assert challenge.startswith("Bearer"), challenge
    assert 'realm="streetwise"' in challenge, challenge


def test_healthz_and_readyz(anon):
    health = anon.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    ready = anon.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}


def test_openapi_document_is_served(anon, spec):
    resp = anon.get("/v1/openapi.json")
    assert resp.status_code == 200
    assert resp.json() == spec.doc, "served document differs from schemas/openapi.yaml"


@pytest.mark.parametrize("authorization", [
    None,
    "Bearer garbage",
    "Bearer sw_pat_" + secrets.token_urlsafe(30),
    "Bearer ",
    "Basic dXNlcjpwYXNzd29yZA==",
    "sw_pat_without_scheme",
], ids=["missing", "garbage", "unknown-pat", "empty-bearer", "basic", "no-scheme"])
def test_bad_credentials_are_401(anon, authorization):
    resp = anon.get("/v1/me", headers={"Authorization": authorization})
    assert_unauthenticated(resp)


@pytest.mark.parametrize("who,method,path", [
    ("anon", "GET", "/healthz"),
    ("admin", "GET", "/v1/me"),
    ("admin", "GET", "/v1/nope"),
    ("anon", "GET", "/v1/me"),
    ("admin", "POST", "/v1/threads"),
])
def test_every_response_has_a_request_id(anon, admin, who, method, path):
    client = admin if who == "admin" else anon
    kwargs = {"json": {"title": unique("rid"), "body": ""}} if method == "POST" else {}
    resp = client.request(method, path, **kwargs)
    request_id = resp.headers.get("X-Request-Id", "")
    assert request_id.strip(), f"X-Request-Id is {request_id!r}"
    if resp.status_code >= 400:
        assert resp.json().get("request_id") == request_id


def test_request_ids_are_unique(anon):
    ids = {anon.get("/healthz").headers.get("X-Request-Id") for _ in range(5)}
    assert len(ids) == 5, ids


def test_me_returns_user_and_org(admin):
    resp = admin.get("/v1/me")
    assert resp.status_code == 200
    me = resp.json()
    assert me["role"] == "admin"
    assert me["org"]["id"] and me["org"]["name"]
    assert resp.headers.get("Cache-Control", "").replace(" ", "") == "private,no-cache"
    assert "authorization" in resp.headers.get("Vary", "").lower()


def test_admin_token_file_is_private(server, admin):
    path = server.admin_token_file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == server.admin_token
    assert server.admin_token.startswith("sw_pat_")


def test_create_org_returns_admin_and_working_token(root):
    name = unique("acme")
    resp = root.post("/v1/orgs", json={"name": name, "admin_name": "Ada",
                                       "admin_email": "ada@example.com"})
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert created["org"]["name"] == name
    assert created["admin"]["role"] == "admin"
    assert created["admin"]["email"] == "ada@example.com"
    token = created["token"]
    assert token["token"].startswith("sw_pat_")
    assert token["prefix"] == token["token"][:12]
    assert token["user_id"] == created["admin"]["id"]
    assert token["revoked_at"] is None

    me = root.get("/v1/me", token=token["token"])
    assert me.status_code == 200
    assert me.json()["id"] == created["admin"]["id"]
    assert me.json()["org"]["id"] == created["org"]["id"]


@pytest.mark.parametrize("method,path,body", [
    ("GET", "/v1/me", None),
    ("GET", "/v1/threads", None),
    ("POST", "/v1/threads", {"title": "root may not post", "body": "", "tags": []}),
    ("POST", "/v1/users", {"name": "x", "role": "admin"}),
    ("GET", "/v1/events", None),
])
def test_root_token_can_only_create_orgs(root, method, path, body):
    kwargs = {} if body is None else {"json": body}
    assert_problem(root.request(method, path, **kwargs), 403, "forbidden")


def test_org_admin_cannot_create_orgs(org):
    resp = org.admin.post("/v1/orgs", json={"name": unique("org"), "admin_name": "x"})
    assert_problem(resp, 403, "forbidden")


@pytest.mark.parametrize("role", ["member", "expert"])
def test_non_admin_cannot_create_users(org, role):
    actor = org.add_user(role)
    resp = actor.post("/v1/users", json={"name": "intruder", "role": "admin"})
    assert_problem(resp, 403, "forbidden")


@pytest.mark.parametrize("role", ["member", "expert", "admin"])
def test_admin_creates_users_of_every_role(org, role):
    resp = org.admin.post("/v1/users", json={"name": "Bo", "email": "bo@example.com",
                                             "role": role})
    assert resp.status_code == 201, resp.text
    user = resp.json()
    assert user["role"] == role and user["name"] == "Bo" and user["email"] == "bo@example.com"
    fetched = org.admin.get(f"/v1/users/{user['id']}")
    assert fetched.status_code == 200 and fetched.json() == user


def test_user_list_filters_by_role_and_pages(org):
    members = {org.add_user("member").id for _ in range(3)}
    experts = {org.add_user("expert").id for _ in range(2)}
    viewer = org.add_user("member")
    members.add(viewer.id)

    everyone, pages = list_all(viewer, "/v1/users", limit=2)
    ids = [u["id"] for u in everyone]
    assert len(ids) == len(set(ids)) == len(members | experts) + 1  # plus the admin
    assert pages == 4
    one_page, _ = list_all(viewer, "/v1/users", limit=100)
    assert [u["id"] for u in one_page] == ids, "page size changes the order"

    only_experts, _ = list_all(viewer, "/v1/users", params={"role": "expert"})
    assert {u["id"] for u in only_experts} == experts


def test_token_issue_list_and_revoke(org):
    alice = org.add_user("member")
    bob = org.add_user("member")

    issued = alice.post(f"/v1/users/{alice.id}/tokens", json={"name": "laptop"})
    assert issued.status_code == 201, issued.text
    new = issued.json()
    assert new["name"] == "laptop" and new["user_id"] == alice.id
    assert new["prefix"] == new["token"][:12]
    laptop = alice.with_token(new["token"])
    assert laptop.get("/v1/me").json()["id"] == alice.id

    assert_problem(bob.post(f"/v1/users/{alice.id}/tokens", json={}), 403, "forbidden")
    assert_problem(bob.get(f"/v1/users/{alice.id}/tokens"), 403, "forbidden")
    assert_problem(bob.delete(f"/v1/tokens/{new['id']}"), 403, "forbidden")

    listed = alice.get(f"/v1/users/{alice.id}/tokens")
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert {t["id"] for t in items} == {alice.token_id, new["id"]}
    assert all("token" not in t for t in items), "secret leaked in token list"

    revoke = alice.delete(f"/v1/tokens/{new['id']}")
    assert revoke.status_code == 204
    assert revoke.content == b""
    assert_unauthenticated(laptop.get("/v1/me"))
    assert_unauthenticated(laptop.post("/v1/threads", json={"title": "t", "body": "", "tags": []}))

    after = {t["id"]: t for t in alice.get(f"/v1/users/{alice.id}/tokens").json()["items"]}
    assert after[new["id"]]["revoked_at"] is not None
    assert after[alice.token_id]["revoked_at"] is None
    assert alice.get("/v1/me").status_code == 200, "revoking one token revoked another"


def test_admin_revokes_member_token(org):
    carol = org.add_user("expert")
    assert org.admin.delete(f"/v1/tokens/{carol.token_id}").status_code == 204
    assert_unauthenticated(carol.get("/v1/me"))
