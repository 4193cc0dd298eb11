"""Shared machinery for the integration suite: the server process, the
OpenAPI-validating HTTP client and small assertion helpers.

Fixtures live in conftest.py; test modules import helpers from here.
"""

from __future__ import annotations

import datetime
import http.client
import json as jsonlib
import os
import re
import secrets
import signal
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import requests
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = REPO_ROOT / "schemas" / "openapi.yaml"
DEFAULT_BINARY = REPO_ROOT / "build" / "server" / "streetwise"
PROBLEM_BASE = "https://streetwise.invalid/problems/"
HTTP_TIMEOUT = 15.0
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


# --------------------------------------------------------------------------
# Polling
# --------------------------------------------------------------------------

def wait_until(probe, timeout, what, interval=0.02):
    """Call probe() until it returns a truthy value or the deadline passes.

    Returns the truthy value. Raises AssertionError naming `what` on timeout.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def unique(prefix="x"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def missing_id_like(existing):
    """An id of the same shape as `existing` that (almost surely) names nothing.

    Ids are opaque, so keep the format: rotate the last characters within
    their class (digits, hex letters) so e.g. UUIDs and ULIDs stay valid.
    """
    out = list(existing)
    for i in range(max(0, len(out) - 6), len(out)):
        c = out[i]
        if c.isdigit():
            out[i] = str((int(c) + 7) % 10)
        elif c in "abcdef":
            out[i] = "abcdef"[("abcdef".index(c) + 3) % 6]
        elif c in "ABCDEF":
            out[i] = "ABCDEF"[("ABCDEF".index(c) + 3) % 6]
    candidate = "".join(out)
    assert candidate != existing, f"cannot derive a missing id from {existing!r}"
    return candidate


# --------------------------------------------------------------------------
# OpenAPI document
# --------------------------------------------------------------------------

class _JsonishLoader(yaml.SafeLoader):
    """SafeLoader that keeps dates as strings, as a JSON document would."""


_JsonishLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _pointer_get(doc, pointer):
    node = doc
    for part in pointer.lstrip("/").split("/"):
        if part == "":
            continue
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


_RFC3339 = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$", re.IGNORECASE)


def _format_checker():
    """date, date-time and uri checks without optional jsonschema extras."""
    checker = jsonschema.FormatChecker(formats=())

    @checker.checks("date-time", raises=ValueError)
    def _date_time(value):
        if not isinstance(value, str):
            return True
        if not _RFC3339.match(value):
            return False
        datetime.datetime.fromisoformat(value[:19])
        return True

    @checker.checks("date", raises=ValueError)
    def _date(value):
        if not isinstance(value, str):
            return True
        if not re.fullmatch(r"\d{4}-\d\d-\d\d", value):
            return False
        datetime.date.fromisoformat(value)
        return True

    @checker.checks("uri")
    def _uri(value):
        return not isinstance(value, str) or bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$", value))

    return checker


FORMAT_CHECKER = _format_checker()


class OpenApiSpec:
    """schemas/openapi.yaml, with response validation.

    `$ref`s inside schemas are resolved by a jsonschema RefResolver whose
    referrer is the whole document, so `#/components/...` works unchanged.
    """

    def __init__(self, path=SPEC_PATH):
        with open(path, encoding="utf-8") as f:
            self.doc = yaml.load(f, Loader=_JsonishLoader)
        self.prefixes = self._server_prefixes()
        self.routes = self._compile_routes()
        self.problem_schema = self._find_problem_schema()

    def _server_prefixes(self):
        prefixes = {""}
        for server in self.doc.get("servers") or []:
            prefixes.add(urlsplit(server.get("url", "")).path.rstrip("/"))
        return sorted(prefixes, key=len, reverse=True)

    def _compile_routes(self):
        routes = []
        for template, item in (self.doc.get("paths") or {}).items():
            params = re.findall(r"\{[^}]+\}", template)
            rx = re.escape(template)
            for p in params:
                rx = rx.replace(re.escape(p), "[^/]+")
            routes.append((len(params), re.compile(f"^{rx}$"), template, item))
        routes.sort(key=lambda r: r[0])  # literal segments win over parameters
        return routes

    def _find_problem_schema(self):
        schemas = (self.doc.get("components") or {}).get("schemas") or {}
        for name in schemas:
            if name.lower() in ("problem", "problemdetails", "problemdetail"):
                return {"$ref": f"#/components/schemas/{name}"}
        raise AssertionError("openapi.yaml has no components.schemas.Problem")

    def deref(self, obj):
        while isinstance(obj, dict) and "$ref" in obj:
            ref = obj["$ref"]
            assert ref.startswith("#"), f"external $ref not supported: {ref}"
            obj = _pointer_get(self.doc, ref[1:])
        return obj

    def match(self, path):
        """Return (template, path item) for a concrete request path, or None."""
        for prefix in self.prefixes:
            if prefix and not path.startswith(prefix + "/"):
                continue
            rest = path[len(prefix):]
            for _, rx, template, item in self.routes:
                if rx.match(rest):
                    return template, self.deref(item)
        return None

    def validate(self, schema, instance, context):
        resolver = jsonschema.RefResolver(base_uri="", referrer=self.doc)
        validator = jsonschema.Draft202012Validator(schema, resolver=resolver,
                                                    format_checker=FORMAT_CHECKER)
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
        if errors:
            lines = [
                f"  at /{'/'.join(map(str, e.path))}: {e.message[:300]}" for e in errors[:5]
            ]
            raise AssertionError(
                f"{context}: response does not match openapi.yaml:\n"
                + "\n".join(lines)
                + f"\nbody: {jsonlib.dumps(instance)[:800]}"
            )

    def _check_headers(self, documented, headers, context):
        for name, header in documented.items():
            header = self.deref(header)
            value = headers.get(name)
            if value is None:
                assert not header.get("required"), f"{context}: missing header {name}"
                continue
            schema = header.get("schema") or {}
            instance = value
            if self.deref(schema).get("type") == "integer":
                assert re.fullmatch(r"-?\d+", value), f"{context}: {name}: {value!r}"
                instance = int(value)
            self.validate(schema, instance, f"{context} header {name}")

    def check_response(self, method, path, status, headers, body):
        """Validate one response against the document; raise AssertionError."""
        context = f"{method} {path} -> {status}"
        media = headers.get("Content-Type", "").split(";")[0].strip().lower()
        parsed = None
        if body and media == "text/csv":
            # CSV (insights endpoints): the operation must document text/csv for this status.
            route = self.match(path)
            assert route is not None and status < 400, f"{context}: CSV for an undocumented operation"
            operation = route[1].get(method.lower()) or {}
            response = self.deref((operation.get("responses") or {}).get(str(status)) or {})
            assert "text/csv" in (response.get("content") or {}), f"{context}: text/csv not documented"
            return
        if body:
            assert media in ("application/json", "application/problem+json"), (
                f"{context}: unexpected Content-Type {headers.get('Content-Type')!r}"
            )
            try:
                parsed = jsonlib.loads(body)
            except ValueError as exc:
                raise AssertionError(f"{context}: body is not JSON: {body[:200]!r}") from exc

        if status >= 400:
            assert media == "application/problem+json", (
                f"{context}: error Content-Type is {headers.get('Content-Type')!r}"
            )
            assert parsed is not None, f"{context}: error without a problem body"
            self.validate(self.problem_schema, parsed, context + " (Problem)")

        operation = None
        route = self.match(path)
        if route is not None:
            template, item = route
            operation = item.get(method.lower())
            context = f"{method} {template} -> {status}"
        if operation is None:
            # Unknown route or method: only a problem answer is acceptable.
            assert status >= 400, f"{context}: success for an undocumented operation"
            return

        responses = {str(k): v for k, v in (operation.get("responses") or {}).items()}
        response = (
            responses.get(str(status))
            or responses.get(f"{status // 100}XX")
            or responses.get("default")
        )
        assert response is not None, f"{context}: status not documented in openapi.yaml"
        response = self.deref(response)
        self._check_headers(response.get("headers") or {}, headers, context)
        content = response.get("content") or {}
        if not body:
            return
        assert content, f"{context}: body returned but openapi.yaml declares none"
        media_obj = content.get(media)
        if media_obj is None and len(content) == 1:
            media_obj = next(iter(content.values()))
        if media_obj is None and status >= 400:
            return  # already validated against Problem above
        assert media_obj is not None, f"{context}: media type {media} not documented"
        schema = media_obj.get("schema")
        if schema is not None:
            self.validate(schema, parsed, context)


# --------------------------------------------------------------------------
# HTTP client
# --------------------------------------------------------------------------

_MISSING = object()


class Api:
    """requests wrapper that validates every response (see check_common)."""

    def __init__(self, server, spec, token=None):
        self.server = server
        self.spec = spec
        self.token = token
        self.session = requests.Session()
        self.session.trust_env = False

    def with_token(self, token):
        return Api(self.server, self.spec, token)

    def request(self, method, path, *, json=_MISSING, data=None, headers=None,
                params=None, token=_MISSING, timeout=HTTP_TIMEOUT):
        method = method.upper()
        token = self.token if token is _MISSING else token
        hdrs = {}
        if token is not None:
            hdrs["Authorization"] = f"Bearer {token}"
        if json is not _MISSING:
            data = jsonlib.dumps(json).encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        for key, value in (headers or {}).items():
            if value is None:
                hdrs.pop(key, None)
            else:
                hdrs[key] = value
        resp = self.session.request(
            method, self.server.base_url + path, data=data, headers=hdrs,
            params=params, timeout=timeout, allow_redirects=False,
        )
        check_common(self.spec, method, urlsplit(resp.request.url).path,
                     resp.status_code, resp.headers, resp.content)
        return resp

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, json=_MISSING, **kw):
        return self.request("POST", path, json=json, **kw)

    def patch(self, path, json=_MISSING, **kw):
        return self.request("PATCH", path, json=json, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


def check_common(spec, method, path, status, headers, body):
    """Checks applied to every response: the openapi.yaml schema (body and
    documented required headers), no 500, problem+json for errors, and
    X-Change-Seq on successful writes.

    Per-response conventions that are not in the schema (X-Request-Id,
    Cache-Control, ...) have dedicated tests so one deviation does not
    mask every other result.
    """
    context = f"{method} {path} -> {status}"
    assert status < 500 or status == 503, f"{context}: server error {body[:500]!r}"
    # Reads over POST (similar threads) and operator jobs append nothing to the change log.
    no_change_log = path.startswith("/v1/admin/") or path == "/v1/threads/similar"
    if method in WRITE_METHODS and 200 <= status < 300 and not no_change_log:
        seq = headers.get("X-Change-Seq", "")
        assert seq.isdigit() and int(seq) > 0, f"{context}: bad X-Change-Seq {seq!r}"
    spec.check_response(method, path, status, headers, body)
    if status >= 400:
        problem = jsonlib.loads(body)
        assert problem.get("status") == status, f"{context}: problem.status mismatch"
        assert str(problem.get("type", "")).startswith(PROBLEM_BASE), (
            f"{context}: problem type {problem.get('type')!r}"
        )


class RawResponse:
    """The few attributes of requests.Response the helpers use."""

    def __init__(self, status_code, headers, content):
        self.status_code = status_code
        self.headers = requests.structures.CaseInsensitiveDict(headers)
        self.content = content
        self.text = content.decode("utf-8", errors="replace")

    def json(self):
        return jsonlib.loads(self.content)


def send_tolerant(api, method, path, headers, body, chunk=64 * 1024):
    """Send a request over a plain connection, ignoring errors while writing
    the body, then read the response.

    For oversized bodies: a server may answer 413 and close before reading
    everything, which makes requests raise instead of returning the answer.
    """
    host, port = api.server.base_url[len("http://"):].rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=HTTP_TIMEOUT)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        if api.token:
            conn.putheader("Authorization", f"Bearer {api.token}")
        for key, value in headers.items():
            conn.putheader(key, value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        try:
            for start in range(0, len(body), chunk):
                conn.send(body[start:start + chunk])
        except (BrokenPipeError, ConnectionResetError):
            pass
        resp = conn.getresponse()
        raw = RawResponse(resp.status, resp.getheaders(), resp.read())
    finally:
        conn.close()
    check_common(api.spec, method, path, raw.status_code, raw.headers, raw.content)
    return raw


class Actor(Api):
    """An authenticated user: an Api bound to the user's token plus its ids."""

    def __init__(self, server, spec, user, new_token):
        super().__init__(server, spec, new_token["token"])
        self.user = user
        self.id = user["id"]
        self.role = user["role"]
        self.token_id = new_token["id"]


class Org:
    """An organisation created through POST /v1/orgs with the root token."""

    def __init__(self, root, name=None):
        self.name = name or unique("org")
        resp = root.post("/v1/orgs", json={"name": self.name, "admin_name": f"{self.name} admin"})
        assert resp.status_code == 201, resp.text
        body = resp.json()
        self.org = body["org"]
        self.id = self.org["id"]
        self.admin = Actor(root.server, root.spec, body["admin"], body["token"])

    def add_user(self, role="member", name=None):
        resp = self.admin.post("/v1/users", json={"name": name or unique(role), "role": role})
        assert resp.status_code == 201, resp.text
        user = resp.json()
        tok = self.admin.post(f"/v1/users/{user['id']}/tokens", json={"name": "tests"})
        assert tok.status_code == 201, tok.text
        return Actor(self.admin.server, self.admin.spec, user, tok.json())


# --------------------------------------------------------------------------
# Assertions and API shortcuts
# --------------------------------------------------------------------------

def assert_problem(resp, status, slug):
    """A problem+json answer with the given status and type slug."""
    assert resp.status_code == status, (
        f"expected {status} {slug}, got {resp.status_code}: {resp.text[:500]}"
    )
    assert resp.headers.get("Content-Type", "").startswith("application/problem+json")
    problem = resp.json()
    assert problem["type"] == PROBLEM_BASE + slug, problem
    assert problem["status"] == status
    assert isinstance(problem.get("detail"), str) and problem["detail"].strip(), problem
    return problem


def new_thread_body(**overrides):
    body = {"title": unique("thread"), "body": "Some *markdown* body.", "tags": []}
    body.update(overrides)
    return body


def create_thread(api, **overrides):
    resp = api.post("/v1/threads", json=new_thread_body(**overrides))
    assert resp.status_code == 201, resp.text
    return resp.json()


def get_thread(api, thread_id):
    """(thread, etag) of an existing thread."""
    resp = api.get(f"/v1/threads/{thread_id}")
    assert resp.status_code == 200, resp.text
    return resp.json(), resp.headers["ETag"]


def post_answer(api, thread_id, body=None):
    resp = api.post(f"/v1/threads/{thread_id}/answers", json={"body": body or unique("answer")})
    assert resp.status_code == 201, resp.text
    return resp.json()


def list_all(api, path, params=None, limit=None):
    """Follow next_cursor to the end; return (items, number of pages).

    Checks that the Link rel="next" header is present exactly when there is
    a next page.
    """
    params = dict(params or {})
    if limit is not None:
        params["limit"] = limit
    items, pages = [], 0
    while True:
        resp = api.get(path, params=params)
        assert resp.status_code == 200, resp.text
        page = resp.json()
        pages += 1
        items.extend(page["items"])
        link = resp.headers.get("Link", "")
        cursor = page["next_cursor"]
        if cursor is None:
            assert 'rel="next"' not in link, f"Link on last page: {link}"
            return items, pages
        assert 'rel="next"' in link, f"no Link rel=next although next_cursor is set: {link!r}"
        assert pages < 1000, "paging does not terminate"
        params["cursor"] = cursor


def list_events(api, after=None, limit=None):
    """All events visible to api after `after`, following next_after."""
    events = []
    while True:
        params = {}
        if after is not None:
            params["after"] = after
        if limit is not None:
            params["limit"] = limit
        resp = api.get("/v1/events", params=params)
        assert resp.status_code == 200, resp.text
        page = resp.json()
        events.extend(page["items"])
        if not page["items"] or page.get("next_after") is None:
            return events
        assert after is None or page["next_after"] > after, "next_after does not advance"
        after = page["next_after"]


# --------------------------------------------------------------------------
# Server process
# --------------------------------------------------------------------------

class ServerProcess:
    """The streetwise binary on a data dir, listening on 127.0.0.1:0."""

    START_TIMEOUT = 30.0

    def __init__(self, binary, data_dir, log_path):
        self.binary = Path(binary)
        self.data_dir = Path(data_dir)
        self.log_path = Path(log_path)
        self.root_token = "root-" + secrets.token_urlsafe(24)
        self.admin_token = None
        self.base_url = None
        self.proc = None
        self._probe = requests.Session()
        self._probe.trust_env = False

    @property
    def listen_file(self):
        return self.data_dir / "listen-address"

    @property
    def admin_token_file(self):
        return self.data_dir / "admin-token"

    def log_tail(self, n=40):
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    def _require_running(self):
        if self.proc.poll() is not None:
            raise AssertionError(
                f"server exited with {self.proc.returncode} during start-up; log:\n"
                + self.log_tail()
            )

    def _read_nonempty(self, path):
        self._require_running()
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            return ""

    def _ready(self):
        self._require_running()
        try:
            return self._probe.get(self.base_url + "/readyz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def start(self):
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.listen_file.unlink(missing_ok=True)  # stale after kill -9
        env = dict(os.environ, STREETWISE_ROOT_TOKEN=self.root_token)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [str(self.binary), "serve", "--data", str(self.data_dir),
                 "--listen", "127.0.0.1:0"],
                env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )
        try:
            address = wait_until(lambda: self._read_nonempty(self.listen_file),
                                 self.START_TIMEOUT, "listen-address")
            self.base_url = f"http://{address}"
            if self.admin_token is None:
                self.admin_token = wait_until(
                    lambda: self._read_nonempty(self.admin_token_file),
                    self.START_TIMEOUT, "admin-token")
            wait_until(self._ready, self.START_TIMEOUT, "GET /readyz == 200")
        except BaseException:
            self.kill()
            raise
        return self

    def stop(self, timeout=20.0):
        """SIGTERM and wait; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"server ignored SIGTERM for {timeout}s")

    def kill(self):
        """kill -9 and reap."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def restart(self):
        code = self.stop()
        assert code == 0, f"graceful stop exited with {code}"
        return self.start()

    def crash_and_restart(self):
        self.kill()
        return self.start()


# --------------------------------------------------------------------------
# The CLI (backup, restore, export, import, config show)
# --------------------------------------------------------------------------

CLI_TIMEOUT = 120


def cli_env(root_token=None):
    """The environment without STREETWISE_* settings (so tests see only what they set)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREETWISE_")}
    if root_token is not None:
        env["STREETWISE_ROOT_TOKEN"] = root_token
    return env


def run_cli(server_or_binary, *args, root_token=None, check=True):
    binary = getattr(server_or_binary, "binary", server_or_binary)
    proc = subprocess.run([str(binary), *map(str, args)], env=cli_env(root_token), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=CLI_TIMEOUT)
    if check:
        assert proc.returncode == 0, (
            f"{' '.join(map(str, args))} exited {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}")
    return proc
