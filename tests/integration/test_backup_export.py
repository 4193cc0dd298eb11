"""Operator tools: online backup + restore, export/import of an organisation, config show.

The CLI commands run as subprocesses of the same binary as the servers ($STREETWISE_BIN).
"""

import json
import os
import random
import re
import string
import subprocess
import threading
import time
import tomllib

import pytest

from support import (
    REPO_ROOT,
    Api,
    Org,
    CLI_TIMEOUT,
    ServerProcess,
    assert_problem,
    cli_env,
    get_thread,
    list_all,
    post_answer,
    run_cli,
    unique,
    wait_until,
)

_rng = random.Random()


def word(prefix):
    """A letters-only search term (the tokenizer keeps it whole)."""
    return prefix + "".join(_rng.choice(string.ascii_lowercase) for _ in range(10))


def search_ids(api, q):
    """Every thread id GET /v1/search finds for q (all pages)."""
    params = {"q": q, "limit": 100}
    ids = []
    for _ in range(100):
        resp = api.get("/v1/search", params=params)
        assert resp.status_code == 200, resp.text
        page = resp.json()
        ids.extend(hit["thread_id"] for hit in page["results"])
        if page["next_cursor"] is None:
            return set(ids)
        params["cursor"] = page["next_cursor"]
    raise AssertionError("search paging does not terminate")


def started_on(binary, data_dir, log_path, admin_token):
    """A server on an existing data dir whose admin token we already know."""
    srv = ServerProcess(binary, data_dir, log_path)
    srv.admin_token = admin_token
    return srv.start()


# --------------------------------------------------------------------------
# Backup and restore
# --------------------------------------------------------------------------

class Writers:
    """Threads that create threads titled with `marker` until stopped, recording
    for each acknowledged write when its request was sent and answered."""

    def __init__(self, server, spec, marker, count=4):
        self.server, self.spec, self.marker = server, spec, marker
        self.acked = []  # (thread id, change seq, sent, answered) in monotonic seconds
        self.errors = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(count)]

    def _run(self, n):
        api = Api(self.server, self.spec, self.server.admin_token)
        i = 0
        while not self._stop.is_set():
            i += 1
            sent = time.monotonic()
            try:
                resp = api.post("/v1/threads", json={"title": f"{self.marker} writer {n} number {i}",
                                                    "body": "written during a backup", "tags": ["backup-test"]})
            except Exception as exc:  # noqa: BLE001 - reported by the test
                self.errors.append(repr(exc))
                return
            answered = time.monotonic()
            if resp.status_code != 201:
                self.errors.append(f"{resp.status_code} {resp.text[:200]}")
                return
            with self._lock:
                self.acked.append((resp.json()["id"], int(resp.headers["X-Change-Seq"]), sent, answered))

    def count(self):
        with self._lock:
            return len(self.acked)

    def __enter__(self):
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)


def test_backup_under_write_load_restores_every_acknowledged_write(own_server, spec, tmp_path):
    marker = word("bkp")
    backup_dir = tmp_path / "backups" / "under-load"
    with Writers(own_server, spec, marker) as writers:
        wait_until(lambda: writers.count() >= 40, 30, "40 acknowledged writes")
        backup_started = time.monotonic()
        proc = run_cli(own_server, "backup", backup_dir, "--data", own_server.data_dir,
                       root_token=own_server.root_token)
        backup_ended = time.monotonic()
        count_at_end = writers.count()
        # Keep writing a little after the backup, so there are writes it must not contain.
        wait_until(lambda: writers.count() >= count_at_end + 20, 30, "writes after the backup")
    assert not writers.errors, writers.errors
    assert "taken by the running server" in proc.stdout, proc.stdout

    manifest = json.loads((backup_dir / "backup.json").read_text())
    assert manifest["type"] == "streetwise-backup" and manifest["version"] == 1, manifest
    assert manifest["format_version"] == 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", manifest["created_at"]), manifest
    assert not (backup_dir / "index").exists(), "the index is rebuilt, not backed up"
    assert not (backup_dir / "admin-token").exists()

    before = {tid: seq for tid, seq, _, answered in writers.acked if answered < backup_started}
    after = {tid for tid, _, sent, _ in writers.acked if sent > backup_ended}
    assert len(before) >= 40 and after
    assert manifest["change_log_head_seq"] >= max(before.values()), manifest

    restored_data = tmp_path / "restored"
    out = run_cli(own_server, "restore", backup_dir, "--data", restored_data).stdout
    assert "restored" in out
    assert not (restored_data / "admin-token").exists(), "restore never writes admin-token"
    own_server.stop()

    # The tokens live in the database, so the original admin token works on the restored copy.
    restored = started_on(own_server.binary, restored_data, tmp_path / "restored.log", own_server.admin_token)
    try:
        admin = Api(restored, spec, restored.admin_token)
        missing = [tid for tid in before if admin.get(f"/v1/threads/{tid}").status_code != 200]
        assert not missing, f"{len(missing)} of {len(before)} acknowledged writes are missing: {missing[:5]}"
        leaked = [tid for tid in after if admin.get(f"/v1/threads/{tid}").status_code != 404]
        assert not leaked, f"writes sent after the backup finished are in it: {leaked[:5]}"
        # The index was not restored: it is rebuilt from RocksDB on start, so search finds them all.
        found = search_ids(admin, marker)
        assert set(before) <= found, f"search misses {len(set(before) - found)} restored threads"
    finally:
        restored.stop()
        restored.kill()


def test_backup_endpoint_needs_the_root_token_and_a_good_path(server, root, admin, anon, tmp_path):
    target = tmp_path / "b"
    assert_problem(anon.post("/v1/admin/backup", json={"path": str(target)}), 401, "unauthenticated")
    assert_problem(admin.post("/v1/admin/backup", json={"path": str(target)}), 403, "forbidden")
    problem = assert_problem(root.post("/v1/admin/backup", json={"path": "relative/dir"}), 422, "validation")
    assert problem["errors"][0]["pointer"] == "#/path"
    assert_problem(root.post("/v1/admin/backup", json={"path": str(server.data_dir / "db" / "x")}), 422, "validation")
    assert_problem(root.post("/v1/admin/backup", json={}), 422, "validation")
    assert_problem(root.post("/v1/admin/backup", json={"path": str(target), "extra": 1}), 422, "validation")
    assert not target.exists()

    resp = root.post("/v1/admin/backup", json={"path": str(target)})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["path"] == str(target)
    assert int(resp.headers["X-Change-Seq"]) == body["change_log_head_seq"]
    assert (target / "backup.json").is_file() and (target / "db").is_dir()
    assert_problem(root.post("/v1/admin/backup", json={"path": str(target)}), 409, "conflict")


def test_offline_backup_and_forced_restore(own_server, spec, tmp_path):
    admin = Api(own_server, spec, own_server.admin_token)
    kept = admin.post("/v1/threads", json={"title": unique("kept"), "body": ""}).json()["id"]
    own_server.stop()

    backup_dir = tmp_path / "offline"
    out = run_cli(own_server, "backup", backup_dir, "--data", own_server.data_dir).stdout
    assert "offline" in out, out

    own_server.start()
    dropped = admin.post("/v1/threads", json={"title": unique("dropped"), "body": ""}).json()["id"]
    # A running server holds the data dir: restore refuses even with --force.
    proc = run_cli(own_server, "restore", backup_dir, "--data", own_server.data_dir, "--force", check=False)
    assert proc.returncode == 1 and "in use" in proc.stderr, proc.stderr
    own_server.stop()

    # A non-empty data dir needs --force.
    proc = run_cli(own_server, "restore", backup_dir, "--data", own_server.data_dir, check=False)
    assert proc.returncode == 1 and "--force" in proc.stderr, proc.stderr
    token_before = own_server.admin_token_file.read_text()
    (own_server.data_dir / "index").mkdir(exist_ok=True)
    run_cli(own_server, "restore", backup_dir, "--data", own_server.data_dir, "--force")
    assert own_server.admin_token_file.read_text() == token_before, "admin-token must not be touched"

    own_server.start()
    assert admin.get(f"/v1/threads/{kept}").status_code == 200
    assert admin.get(f"/v1/threads/{dropped}").status_code == 404

    # Not a backup (no backup.json): refused, nothing created.
    (tmp_path / "not-a-backup" / "db").mkdir(parents=True)
    proc = run_cli(own_server, "restore", tmp_path / "not-a-backup", "--data", tmp_path / "fresh", check=False)
    assert proc.returncode == 1 and "backup.json" in proc.stderr, proc.stderr
    assert not (tmp_path / "fresh").exists()


# --------------------------------------------------------------------------
# Export and import
# --------------------------------------------------------------------------

def _populate(org, marker):
    """Users with roles and threads with answers, comments, votes, an accepted answer and an edit."""
    expert = org.add_user("expert", name=unique("Eve Expert"))
    member = org.add_user("member", name=unique("Max Member"))
    threads = []
    for i in range(5):
        t = member.post("/v1/threads", json={"title": f"{marker} question {i}", "body": f"Body *{i}*",
                                             "tags": ["pricing", f"q{i}"], "region": "EMEA"}).json()
        threads.append(t)
    a0 = post_answer(expert, threads[0]["id"], "Use the 2026 price book.")
    post_answer(org.admin, threads[0]["id"], "Ask finance.")
    post_answer(expert, threads[1]["id"], "Second answer.")
    assert member.post(f"/v1/threads/{threads[0]['id']}/comments",
                       json={"body": "Thanks!", "answer_id": a0["id"]}).status_code == 201
    assert member.post(f"/v1/answers/{a0['id']}/vote", json={"value": 1}).status_code == 200
    assert member.post(f"/v1/threads/{threads[0]['id']}/accept", json={"answer_id": a0["id"]}).status_code == 200
    _, etag = get_thread(member, threads[2]["id"])
    assert member.patch(f"/v1/threads/{threads[2]['id']}", json={"title": f"{marker} question 2 (edited)"},
                        headers={"If-Match": etag}).status_code == 200
    return expert, member


def _snapshot(api):
    """An org's content keyed by title, with authors as names (ids differ after an import)."""
    users = {u["id"]: u for u in list_all(api, "/v1/users")[0]}
    people = sorted((u["name"], u["role"], u["email"]) for u in users.values())
    threads = {}
    for item in list_all(api, "/v1/threads", limit=100)[0]:
        t, _ = get_thread(api, item["id"])
        accepted = next((a["body"] for a in t["answers"] if a["id"] == t.get("accepted_answer_id")), None)
        threads[t["title"]] = {
            "body": t["body"], "tags": t["tags"], "status": t["status"], "kind": t["kind"],
            "region": t["region"], "author": users[t["author_id"]]["name"],
            "answers": [(a["body"], users[a["author_id"]]["name"], a["score"]) for a in t["answers"]],
            "comments": [(c["body"], users[c["author_id"]]["name"]) for c in t["comments"]],
            "accepted": accepted, "version": t["version"], "created_at": t["created_at"],
        }
    return people, threads


def test_export_import_roundtrip_into_an_isolated_new_org(own_server, spec, tmp_path):
    root = Api(own_server, spec, own_server.root_token)
    org = Org(root, unique("Export Co"))
    marker = word("exp")
    _populate(org, marker)
    people, threads = _snapshot(org.admin)
    source_ids = {item["id"] for item in list_all(org.admin, "/v1/threads")[0]}
    own_server.stop()

    export_file = tmp_path / "org.jsonl"
    run_cli(own_server, "export", "--org", org.id, "--out", export_file, "--data", own_server.data_dir)
    lines = [json.loads(line) for line in export_file.read_text().splitlines()]
    assert lines[0]["type"] == "streetwise-export" and lines[0]["version"] == 1
    assert lines[0]["org"]["id"] == org.id and lines[0]["org"]["name"] == org.name
    assert [r["type"] for r in lines[1:4]] == ["user"] * 3
    assert lines[-1] == {"type": "end", "users": 3, "threads": 5}
    raw = export_file.read_text()
    for leak in ("sw_pat_", "secret_sha256", '"prefix"', "token"):
        assert leak not in raw, f"token material in the export: {leak}"

    proc = run_cli(own_server, "import", export_file, "--data", own_server.data_dir)
    result = json.loads(proc.stdout)
    assert result["org_id"] != org.id and result["users"] == 3 and result["threads"] == 5, result
    assert result["admin_token"].startswith("sw_pat_")

    own_server.start()
    imported = Api(own_server, spec, result["admin_token"])
    me = imported.get("/v1/me").json()
    assert me["id"] == result["admin_user_id"] and me["role"] == "admin"
    assert me["org"]["id"] == result["org_id"] and me["org"]["name"] == org.name
    new_people, new_threads = _snapshot(imported)
    assert new_people == people, "users keep their names, roles and emails"
    assert new_threads == threads, "threads keep titles, bodies, answers, comments, votes and acceptance"

    # Isolation: neither org sees the other's threads, and the source org is unchanged.
    new_ids = {item["id"] for item in list_all(imported, "/v1/threads")[0]}
    assert not new_ids & source_ids
    for tid in list(source_ids)[:3]:
        assert imported.get(f"/v1/threads/{tid}").status_code == 404
    for tid in list(new_ids)[:3]:
        assert org.admin.get(f"/v1/threads/{tid}").status_code == 404
    assert {item["id"] for item in list_all(org.admin, "/v1/threads")[0]} == source_ids
    assert _snapshot(org.admin) == (people, threads)

    # The imported threads reach the search index through the change log, in their org only.
    wait_until(lambda: search_ids(imported, marker) == new_ids, 20, "imported threads searchable")
    assert search_ids(org.admin, marker) == source_ids


def test_import_refuses_a_truncated_or_foreign_file(own_server, spec, tmp_path):
    default_org = Api(own_server, spec, own_server.admin_token).get("/v1/me").json()["org"]["id"]
    own_server.stop()
    export_file = tmp_path / "org.jsonl"
    run_cli(own_server, "export", "--org", default_org, "--out", export_file, "--data", own_server.data_dir)
    truncated = tmp_path / "truncated.jsonl"
    truncated.write_text("\n".join(export_file.read_text().splitlines()[:-1]) + "\n")
    proc = run_cli(own_server, "import", truncated, "--data", own_server.data_dir, check=False)
    assert proc.returncode == 3 and "truncated" in proc.stderr, proc.stderr
    foreign = tmp_path / "foreign.jsonl"
    foreign.write_text('{"title": "a bulk-load line"}\n')
    proc = run_cli(own_server, "import", foreign, "--data", own_server.data_dir, check=False)
    assert proc.returncode == 3 and "foreign.jsonl:1" in proc.stderr, proc.stderr
    proc = run_cli(own_server, "export", "--org", "o-missing", "--out", tmp_path / "x.jsonl",
                   "--data", own_server.data_dir, check=False)
    assert proc.returncode == 1 and not (tmp_path / "x.jsonl").exists()


# --------------------------------------------------------------------------
# config show
# --------------------------------------------------------------------------

def _documented_keys():
    """The keys of the configuration table in docs/operations.md."""
    text = (REPO_ROOT / "docs" / "operations.md").read_text()
    section = text.split("## Configuration reference", 1)[1].split("\n## ", 1)[0]
    return {m.group(1) for m in re.finditer(r"^\| `([a-z_]+)` \| `STREETWISE_", section, re.M)}


def test_config_show_prints_the_effective_config_with_secrets_masked(server, tmp_path):
    binary = server.binary
    config_file = tmp_path / "streetwise.toml"
    config_file.write_text('blocking_threads = 7\nlisten = "127.0.0.1:1234"\nlog_level = "debug"\n')
    env_secret = "root-" + unique("secret")
    proc = subprocess.run([str(binary), "config", "show", "--config", str(config_file), "--listen", "0.0.0.0:9999"],
                          env=dict(cli_env(env_secret), STREETWISE_LOG_LEVEL="warn"),
                          capture_output=True, text=True, timeout=CLI_TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    assert env_secret not in proc.stdout
    shown = tomllib.loads(proc.stdout)
    assert shown["root_token"] == "********"
    assert shown["blocking_threads"] == 7            # file
    assert shown["log_level"] == "warn"              # environment beats the file
    assert shown["listen"] == "0.0.0.0:9999"         # flag beats both
    assert shown["io_threads"] == 2                  # default
    assert set(shown) == _documented_keys(), "config show and docs/operations.md list different keys"

    # The output is a valid config file that yields the same configuration.
    round_trip = tmp_path / "shown.toml"
    round_trip.write_text(proc.stdout)
    again = run_cli(binary, "config", "show", "--config", round_trip).stdout
    assert tomllib.loads(again) == shown

    example = tomllib.loads(run_cli(binary, "config", "show", "--config", REPO_ROOT / "deploy" / "streetwise.toml").stdout)
    assert example["data_dir"] == "/var/lib/streetwise", "deploy/streetwise.toml must be a valid configuration"

    unset = run_cli(binary, "config", "show").stdout
    assert tomllib.loads(unset)["root_token"] == ""
    bad = run_cli(binary, "config", "show", "--durability", "sometimes", check=False)
    assert bad.returncode == 2 and "configuration error" in bad.stderr
