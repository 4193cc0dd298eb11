"""Operability over real HTTP: rate limits (429 + Retry-After) and the Prometheus /metrics text."""

from __future__ import annotations

import re

import pytest
import requests

from conftest import _launch
from support import Api, Org, assert_problem, create_thread

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$')


@pytest.fixture
def limited_server(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("STREETWISE_RATE_LIMIT_TOKEN_PER_SECOND", "1")
    monkeypatch.setenv("STREETWISE_RATE_LIMIT_TOKEN_BURST", "3")
    monkeypatch.setenv("STREETWISE_AUTH_FAILURES_PER_MINUTE", "6")  # bursts of 1
    srv = _launch(tmp_path_factory, "limited")
    yield srv
    srv.kill()


def test_token_rate_limit_answers_429_with_retry_after(limited_server, spec):
    admin = Api(limited_server, spec, limited_server.admin_token)
    statuses = [admin.get("/v1/me") for _ in range(6)]
    assert [r.status_code for r in statuses[:3]] == [200, 200, 200]
    limited = [r for r in statuses if r.status_code == 429]
    assert limited, [r.status_code for r in statuses]
    r = limited[0]
    assert_problem(r, 429, "rate-limited")
    assert int(r.headers["Retry-After"]) >= 1
    assert r.json()["retry_after"] == int(r.headers["Retry-After"])
    # Health checks are never limited.
    assert all(requests.get(limited_server.base_url + "/healthz", timeout=5).status_code == 200 for _ in range(10))


def test_failed_authentications_are_throttled_per_address(limited_server, spec):
    bad = Api(limited_server, spec, "sw_pat_" + "A" * 38)
    codes = [bad.get("/v1/me").status_code for _ in range(4)]
    assert codes[0] == 401
    assert 429 in codes[1:], codes


def test_metrics_expose_requests_by_route_and_index_lag(server, spec):
    org = Org(Api(server, spec, server.root_token))
    thread = create_thread(org.admin, title="metrics probe")
    assert org.admin.get(f"/v1/threads/{thread['id']}").status_code == 200
    resp = requests.get(server.base_url + "/metrics", timeout=10)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    names = set()
    for line in resp.text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        names.add(m.group(1))
    assert 'http_route="/v1/threads/:id"' in resp.text  # route patterns, never raw ids
    assert thread["id"] not in resp.text
    for name in ("http_server_requests_total", "http_server_request_duration_seconds_bucket",
                 "http_server_active_requests", "streetwise_index_lag_events", "streetwise_change_log_head",
                 "streetwise_rocksdb_sst_files_bytes", "streetwise_escalations_fired"):
        assert name in names, name
