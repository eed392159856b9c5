"""Fixtures for tracking: an app built from custom settings, hit and row helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from connector.app import create_app
from connector.runtime import Runtime
from connector.storage.models import ClickId, Lead, Person, Touchpoint, Visitor

VISITOR = "v-0123456789abcdef"


def _page_view(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "visitor_id": VISITOR,
        "url": "https://shop.example/landing?utm_source=google&utm_medium=cpc&gclid=G-1",
        "referrer": "https://www.google.com/",
        "title": "Landing",
    }
    body.update(overrides)
    return body


def _row_counts(runtime: Runtime) -> dict[str, int]:
    with runtime.sessions() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Visitor, Touchpoint, ClickId, Person, Lead)
        }


@pytest.fixture
def page_view() -> Callable[..., dict[str, Any]]:
    """Build a valid /collect body (visitor ``VISITOR``), with overrides."""
    return _page_view


@pytest.fixture
def row_counts() -> Callable[[Runtime], dict[str, int]]:
    """Count rows per tracking table."""
    return _row_counts


@pytest.fixture
def make_client(make_settings) -> Iterator[Callable[..., tuple[FlaskClient, Runtime]]]:
    """Build a test client (and its runtime) from a partial config dict."""
    runtimes: list[Runtime] = []

    def build(raw: dict | None = None) -> tuple[FlaskClient, Runtime]:
        runtime = Runtime.from_settings(make_settings(raw))
        runtimes.append(runtime)
        app = create_app(runtime=runtime)
        app.config["TESTING"] = True
        return app.test_client(), runtime

    yield build
    for runtime in runtimes:
        runtime.close()
