"""Shared pytest fixtures, and how many workers `-n auto` starts. Helpers live in
tests/support."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine.pipeline_tests.repository import Repositories
from tests.support.coordinator_server import DEFAULT_TOKEN, FakeCoordinator
from tests.support.gitrepo import GitRepo, make_repo
from tests.support.raw_http import RawHTTPServer
from tests.support.tls import make_self_signed_cert

_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")

GitRepoFactory = Callable[..., GitRepo]


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """One worker more than the machine has cores: many tests spend their time waiting
    (on a sandboxed child, git, a local server, a clock), and the extra worker runs while
    they wait. Measured on 2 cores: 114 s with 3 workers, 127 s with 2."""
    return (os.cpu_count() or 1) + 1


def _bypass_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


# --- coordinator -----------------------------------------------------------------


@pytest.fixture
def coordinator_token() -> str:
    """The bearer token the fake coordinators accept."""
    return DEFAULT_TOKEN


@pytest.fixture(scope="session")
def session_tls_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One self-signed (cert_path, key_path) for 127.0.0.1 and localhost per session."""
    return make_self_signed_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def tls_cert(tmp_path: Path, session_tls_cert: tuple[Path, Path]) -> tuple[Path, Path]:
    """The session's self-signed (cert_path, key_path), copied into this test's directory."""
    (tmp_path / "tls").mkdir()
    copies = tuple(tmp_path / "tls" / path.name for path in session_tls_cert)
    for source, copy in zip(session_tls_cert, copies, strict=True):
        shutil.copyfile(source, copy)
    return copies[0], copies[1]


@pytest.fixture
def coordinator(
    tls_cert: tuple[Path, Path], coordinator_token: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeCoordinator]:
    """An HTTPS fake coordinator whose certificate requests trusts (REQUESTS_CA_BUNDLE)."""
    _bypass_proxies(monkeypatch)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_cert[0]))
    with FakeCoordinator(coordinator_token, tls=tls_cert) as server:
        yield server


@pytest.fixture
def http_coordinator(
    coordinator_token: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeCoordinator]:
    """A plain-http fake coordinator."""
    _bypass_proxies(monkeypatch)
    with FakeCoordinator(coordinator_token) as server:
        yield server


@pytest.fixture
def raw_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[RawHTTPServer]:
    """A plain-http server that answers from scripts of raw writes and hang-ups."""
    _bypass_proxies(monkeypatch)
    with RawHTTPServer() as server:
        yield server


# --- git ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def repositories() -> Iterator[Repositories]:
    """The repositories of `[repository]` tables, each built once per session and copied
    for every test that asks (engine.pipeline_tests.repository)."""
    built = Repositories()
    yield built
    built.close()


@pytest.fixture
def git_repo_factory(tmp_path: Path) -> GitRepoFactory:
    """A callable ``(commits, branch="main", name=None) -> GitRepo`` building under tmp_path."""
    counter = 0

    def build(
        commits: list[dict[str, str | None]], branch: str = "main", name: str | None = None
    ) -> GitRepo:
        nonlocal counter
        counter += 1
        return make_repo(tmp_path / "repos" / (name or f"repo{counter}"), commits, branch)

    return build
