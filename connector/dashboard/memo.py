"""A per-request memo of the dashboard's reports, so one view runs each report at most once.

Several panels read the same report (KPIs, the source table and the revenue chart all read
the source report); the page and, later, panel fragments ask through :func:`once`, which keeps
each result on ``flask.g`` keyed by builder and view. The memo dies with the request, so a
new page load always sees fresh data and no result leaks between users.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import g
from sqlalchemy.orm import Session

from connector.dashboard.view import View

Builder = Callable[[Session, View], dict[str, Any]]


def once(build: Builder, db: Session, view: View) -> dict[str, Any]:
    """``build(db, view)``, computed once per request for this builder and view."""
    memo: dict[tuple[str, str], dict[str, Any]] = g.setdefault("dashboard_reports", {})
    # A View holds a dict (unhashable); its query string plus the dates name it exactly.
    view_key = f"{view.rng.start}/{view.rng.end}{view.query()}"
    key = (f"{build.__module__}.{build.__qualname__}", view_key)
    if key not in memo:
        memo[key] = build(db, view)
    return memo[key]
