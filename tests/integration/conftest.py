"""Fixtures: the streetwise server process and validating API clients.

The binary comes from $STREETWISE_BIN (default build/server/streetwise).
Every response that goes through support.Api is validated against
schemas/openapi.yaml.
"""

import os
from pathlib import Path

import pytest

from support import DEFAULT_BINARY, REPO_ROOT, SPEC_PATH, Api, OpenApiSpec, Org, ServerProcess


def _binary():
    path = Path(os.environ.get("STREETWISE_BIN") or DEFAULT_BINARY)
    if not path.is_absolute():
        path = REPO_ROOT / path
    if not os.access(path, os.X_OK):
        pytest.fail(f"server binary {path} not found: build it or set STREETWISE_BIN",
                    pytrace=False)
    return path


@pytest.fixture(scope="session")
def spec():
    if not SPEC_PATH.exists():
        pytest.fail(f"{SPEC_PATH} is missing", pytrace=False)
    return OpenApiSpec(SPEC_PATH)


def _launch(tmp_path_factory, name):
    data = tmp_path_factory.mktemp(f"{name}-data")
    log = data.parent / f"{data.name}.log"
    return ServerProcess(_binary(), data, log).start()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """One server shared by the tests that do not stop it."""
    srv = _launch(tmp_path_factory, "shared")
    yield srv
    srv.stop()
    srv.kill()


@pytest.fixture
def own_server(tmp_path_factory):
    """A private server for a test that kills, stops or restarts it."""
    srv = _launch(tmp_path_factory, "own")
    yield srv
    srv.kill()


@pytest.fixture(scope="session")
def root(server, spec):
    """Client with the operator root token (only POST /v1/orgs)."""
    return Api(server, spec, server.root_token)


@pytest.fixture(scope="session")
def admin(server, spec):
    """Client with the default org's admin token from <data>/admin-token."""
    return Api(server, spec, server.admin_token)


@pytest.fixture(scope="session")
def anon(server, spec):
    """Client without credentials."""
    return Api(server, spec)


@pytest.fixture
def make_org(root):
    """Factory: make_org() creates a fresh organisation via the root token."""
    return lambda name=None: Org(root, name)


@pytest.fixture
def org(make_org):
    """A fresh organisation, so lists and counts start empty."""
    return make_org()
