"""A per-request memo of the dashboard's reports, so one view runs each report at most once.

Several panels read the same report (KPIs, the source table and the revenue chart all read
the source report); the page and, later, panel fragments ask through :func:`once`, which keeps
each result on ``flask.g`` keyed by builder and view. The memo dies with the request, so a
new page load always sees fresh data and no result leaks between users.

:func:`prefetch` fills the memo for several builders at once: each report runs in a session
of its own on a worker thread (``dashboard.panel_workers`` per process), so the page waits for
its slowest panel rather than for the sum of them (the database works on several queries at
once). The workers wait for nothing but the database, and the request thread holds no
connection while it waits for them, so busy pages queue rather than deadlock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask, copy_current_request_context, current_app, g
from sqlalchemy.orm import Session

from connector.app.context import runtime
from connector.dashboard.view import View

Builder = Callable[[Session, View], dict[str, Any]]

_EXECUTOR_KEY = "closedloop_panel_workers"
_lock = threading.Lock()


def _key(build: Builder, view: View) -> tuple[str, str]:
    # A View holds a dict (unhashable); its query string plus the dates name it exactly.
    view_key = f"{view.rng.start}/{view.rng.end}{view.query()}"
    return (f"{build.__module__}.{build.__qualname__}", view_key)


def once(build: Builder, db: Session, view: View) -> dict[str, Any]:
    """``build(db, view)``, computed once per request for this builder and view."""
    memo: dict[tuple[str, str], dict[str, Any]] = g.setdefault("dashboard_reports", {})
    key = _key(build, view)
    if key not in memo:
        memo[key] = build(db, view)
    return memo[key]


def prefetch(builds: Sequence[Builder], view: View) -> None:
    """Compute the builders' reports side by side into the memo (in turn with one worker).

    A builder's error is raised here, as :func:`once` would raise it.
    """
    memo: dict[tuple[str, str], dict[str, Any]] = g.setdefault("dashboard_reports", {})
    todo = [build for build in dict.fromkeys(builds) if _key(build, view) not in memo]
    workers = runtime().settings.dashboard.panel_workers
    if workers <= 1 or len(todo) <= 1:
        return  # ``once`` computes them in turn, in the page's session
    pool = _executor(current_app._get_current_object(), workers)  # type: ignore[attr-defined]
    futures = [(build, pool.submit(_alone(build, view))) for build in todo]
    for build, future in futures:
        memo[_key(build, view)] = future.result()


def _alone(build: Builder, view: View) -> Callable[[], dict[str, Any]]:
    """``build`` in a reading session of its own, with this request's context."""

    @copy_current_request_context
    def run() -> dict[str, Any]:
        with runtime().read_sessions() as db:
            return build(db, view)

    return run


def _executor(app: Flask, workers: int) -> ThreadPoolExecutor:
    """The app's panel workers, started on first use."""
    with _lock:
        pool = app.extensions.get(_EXECUTOR_KEY)
        if pool is None:
            pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="closedloop-panel")
            app.extensions[_EXECUTOR_KEY] = pool
        return pool
