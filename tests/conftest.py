"""Shared fixtures: a fresh database per test (SQLite file, or a PostgreSQL schema).

Set ``CLOSEDLOOP_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test`` to run
the whole suite on PostgreSQL; each test then gets its own schema, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text

from connector.config import Settings, parse_config
from connector.runtime import Runtime

PG_ENV = "CLOSEDLOOP_TEST_DATABASE_URL"


def pytest_configure(config: pytest.Config) -> None:
    """Trust the gRPC emulators' certificate before any test makes a channel.

    gRPC reads ``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH`` once per process, at the first secure
    channel; a test whose config points Google Ads at its real address would otherwise fix the
    roots before a later test starts the sandbox, and the outcome would depend on test order.
    """
    from platforms.sandbox_kit.tls import shared_certificate

    shared_certificate()


def pytest_report_header(config: pytest.Config) -> str:
    return f"closedloop test database: {os.environ.get(PG_ENV) or 'SQLite (per-test file)'}"


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    """A database URL nobody else uses: a temp SQLite file or a new PostgreSQL schema."""
    base = os.environ.get(PG_ENV)
    if not base:
        yield f"sqlite:///{tmp_path / 'closedloop.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def make_settings(db_url: str):
    """Build settings on the test database from a partial YAML-like dict."""

    def build(raw: dict | None = None, env: dict | None = None) -> Settings:
        tree = dict(raw or {})
        tree.setdefault("database", {})
        tree["database"] = {"url": db_url, **tree["database"]}
        tree.setdefault("server", {}).setdefault("trigger_token", "test-trigger-token")
        return parse_config(tree, env=env or {})

    return build


@pytest.fixture
def settings(make_settings) -> Settings:
    """Defaults on the test database, with a trigger token."""
    return make_settings()


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    """A migrated runtime on the test database."""
    rt = Runtime.from_settings(settings)
    yield rt
    rt.close()


@pytest.fixture
def app(runtime: Runtime):
    """The Flask app around the test runtime."""
    from connector.app import create_app

    application = create_app(runtime=runtime)
    application.config["TESTING"] = True
    yield application
    _quiesce(application)


@pytest.fixture
def make_app():
    """Build extra apps from settings; their runtimes are closed after the test."""
    from connector.app import create_app

    built = []

    def build(settings: Settings):
        application = create_app(settings)
        application.config["TESTING"] = True
        built.append(application)
        return application

    yield build
    for application in built:
        _quiesce(application)
        application.extensions["closedloop"].close()


def _quiesce(application) -> None:
    """Let a test's runs finish and stop its CRM write-back thread.

    A write-back thread left polling outlives its test's database (on PostgreSQL the schema is
    dropped), logs a failure every poll, and its traceback formatting races with pytest's
    assertion rewriting in another module's import (CPython 3.11's ``ast`` keeps one global
    recursion counter): a leaked thread once failed an unrelated test with ``SystemError``.
    """
    from connector.tracking.routes import WORKER

    application.extensions["closedloop.runs"].wait_idle(30)
    application.extensions[WORKER].stop()


@pytest.fixture(autouse=True)
def _no_leaked_writeback_thread() -> Iterator[None]:
    """Fail the test that leaves a CRM write-back thread running after its teardown."""
    import threading

    yield
    leaked = [t for t in threading.enumerate() if t.name == "closedloop-crm-writeback"]
    for thread in leaked:
        thread.join(10)
    alive = [t.name for t in leaked if t.is_alive()]
    assert not alive, f"write-back thread still running after the test: {alive}"


@pytest.fixture
def client(app):
    """A test client for the app."""
    return app.test_client()
