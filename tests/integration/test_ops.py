"""Operability over real HTTP: rate limits (429 + Retry-After) and the Prometheus /metrics text."""

from __future__ import annotations

import os
import re
import subprocess

import pytest
import requests

from conftest import _binary, _launch
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
                 "streetwise_rocksdb_sst_files_bytes", "streetwise_escalations_fired", "streetwise_outbox_depth",
                 "streetwise_delivery_attempts_total", "streetwise_delivery_failures_total",
                 "streetwise_notify_delivered", "streetwise_notify_retried", "streetwise_notify_dead"):
        assert name in names, name
    # Per-channel delivery series exist from the start (zero until the first attempt), so rate()
    # and alerts work before anything was delivered.
    for family in ("streetwise_delivery_attempts_total", "streetwise_delivery_failures_total"):
        for channel in ("email", "user_webhook", "org_webhook", "digest"):
            assert f'{family}{{channel="{channel}"}}' in resp.text, (family, channel)


# The text exposition format, version 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/).
METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
SUFFIXES = {"counter": ("",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count"),
            "summary": ("", "_sum", "_count")}


def test_metrics_exposition_parses_strictly_with_help_and_type_for_every_family(server, spec):
    """Lints the whole /metrics page: Debian's python3-prometheus-client parses it, every family
    has HELP and TYPE (the parser turns a sample without them into an "untyped" family), names and
    label names are valid, label values are printable UTF-8, and histograms are consistent."""
    from prometheus_client.parser import text_string_to_metric_families

    org = Org(Api(server, spec, server.root_token))
    create_thread(org.admin, title="metrics lint")
    requests.get(server.base_url + "/no/such/route", timeout=10)  # an "unmatched" series too
    resp = requests.get(server.base_url + "/metrics", timeout=10)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/plain; version=0.0.4"
    text = resp.content.decode("utf-8")  # strict: the format is UTF-8
    assert text.endswith("\n"), "the last line must end with a line feed"

    helped, typed = {}, {}
    for line in text.splitlines():
        assert line == line.strip() and line, f"blank or padded line: {line!r}"
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            _, kind, name, rest = line.split(" ", 3)
            seen = helped if kind == "HELP" else typed
            assert name not in seen, f"second {kind} for {name}"
            assert rest.strip(), f"empty {kind} for {name}"
            seen[name] = rest
    assert helped.keys() == typed.keys(), set(helped) ^ set(typed)

    families = list(text_string_to_metric_families(text))
    assert families
    seen_names = set()
    for family in families:
        assert family.type != "untyped", f"samples without HELP/TYPE: {[s.name for s in family.samples][:5]}"
        assert family.documentation, f"{family.name} has no HELP"
        assert METRIC_NAME.match(family.name), family.name
        assert family.name not in seen_names, f"{family.name} appears twice"
        seen_names.add(family.name)
        exposed = family.name + ("_total" if family.type == "counter" else "")
        assert exposed in typed, f"{exposed}: TYPE line missing"
        assert typed[exposed] == family.type, (exposed, typed[exposed], family.type)
        for sample in family.samples:
            assert sample.name.startswith(family.name), (family.name, sample.name)
            suffix = sample.name[len(family.name):]
            if family.type == "counter":
                assert suffix in ("_total", "_created"), sample.name
                assert sample.value >= 0, sample
            else:
                assert suffix in SUFFIXES.get(family.type, ("",)), sample.name
            for label, value in sample.labels.items():
                assert LABEL_NAME.match(label) and not label.startswith("__"), (sample.name, label)
                assert value.isprintable(), f"{sample.name}{{{label}={value!r}}}: unprintable label value"
        if family.type == "histogram":
            _check_histogram(family)


def _check_histogram(family):
    series = {}
    for sample in family.samples:
        key = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
        series.setdefault(key, {"buckets": [], "count": None})
        if sample.name.endswith("_bucket"):
            series[key]["buckets"].append((float(sample.labels["le"]), sample.value))
        elif sample.name.endswith("_count"):
            series[key]["count"] = sample.value
    for key, s in series.items():
        bounds = [b for b, _ in s["buckets"]]
        counts = [c for _, c in s["buckets"]]
        assert bounds == sorted(bounds) and bounds[-1] == float("inf"), (family.name, key, bounds)
        assert counts == sorted(counts), f"{family.name}{key}: buckets not cumulative"
        assert counts[-1] == s["count"], f"{family.name}{key}: +Inf bucket != _count"


@pytest.mark.skipif(os.environ.get("STREETWISE_SANITIZED") == "1",
                    reason="sanitizer builds keep the sanitizers' allocator")
def test_release_binary_allocates_with_jemalloc():
    # jemalloc prints its statistics at exit when asked through MALLOC_CONF; glibc's malloc ignores it.
    env = dict(os.environ, MALLOC_CONF="stats_print:true")
    out = subprocess.run([str(_binary()), "--help"], env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    assert "Begin jemalloc statistics" in out.stdout + out.stderr
