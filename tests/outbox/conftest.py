"""Fixtures for the delivery tests: the tiny platform, outbox rows, a fixed clock."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from connector.runtime import Runtime
from connector.storage.models import Conversion


def load_tiny_platform() -> Any:
    """Import ``tiny_platform.py`` by path (tests are not a package; subprocesses reuse this)."""
    name = "outbox_tests_tiny_platform"
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).with_name("tiny_platform.py")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


tiny = load_tiny_platform()

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def add_conversions(
    runtime: Runtime,
    count: int,
    *,
    destination: str = "tiny",
    prefix: str = "k",
    clients: int | None = None,
    **overrides: Any,
) -> list[str]:
    """Insert ``count`` pending conversions; returns their dedup keys."""
    keys = []
    with runtime.sessions.begin() as session:
        for i in range(count):
            key = f"{prefix}{i}"
            client = f"c{i % clients}" if clients else f"c{i}"
            row = {
                "deal_id": f"d{i}",
                "destination": destination,
                "kind": "conversion",
                "event_name": "purchase",
                "dedup_key": key,
                "value": Decimal("100.50"),
                "currency": "EUR",
                "event_time": NOW - timedelta(days=1),
                "identifiers": {"ga_client_id": client},
                "next_attempt_at": NOW - timedelta(minutes=1),
                **overrides,
            }
            session.add(Conversion(**row))
            keys.append(key)
    return keys


@pytest.fixture
def now() -> datetime:
    """The fixed clock the delivery tests run at."""
    return NOW


@pytest.fixture
def add_rows(runtime: Runtime):
    """``add_rows(count, **overrides)`` inserts pending conversions on the test database."""

    def add(count: int, *, rt: Runtime | None = None, **kwargs: Any) -> list[str]:
        return add_conversions(rt or runtime, count, **kwargs)

    return add


@pytest.fixture
def make_runtime(make_settings):
    """A migrated runtime with extra settings (e.g. ``{"delivery": {"max_attempts": 2}}``)."""
    made: list[Runtime] = []

    def build(raw: dict[str, Any] | None = None) -> Runtime:
        rt = Runtime.from_settings(make_settings(raw))
        made.append(rt)
        return rt

    yield build
    for rt in made:
        rt.close()


def outbox_rows(runtime: Runtime) -> dict[str, Conversion]:
    """Every outbox row by dedup key."""
    with runtime.sessions() as session:
        return {row.dedup_key: row for row in session.scalars(select(Conversion))}


@pytest.fixture
def rows(runtime: Runtime):
    """``rows(rt=None)`` reads the outbox by dedup key."""
    return lambda rt=None: outbox_rows(rt or runtime)


@pytest.fixture
def tiny_platform() -> Any:
    """The tiny platform module (emulator, adapter, settings)."""
    return tiny


@pytest.fixture
def emulator() -> Iterator[Any]:
    """The tiny platform, serving on a free port."""
    server = tiny.TinyEmulator().start()
    yield server
    server.stop()


@pytest.fixture
def make_destination():
    """Build a tiny adapter for an emulator (set up, like the engine does for its own)."""
    made = []

    def build(server: Any, *, dry_run: bool = False, timeout: float = 5.0, **settings: Any):
        config = {**server.platform_config(), **settings}
        destination = tiny.TinyDestination(
            tiny.TinySettings(**config), dry_run=dry_run, timeout=timeout
        )
        destination.setup()
        made.append(destination)
        return destination

    yield build
    for destination in made:
        destination.close()
