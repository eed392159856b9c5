"""The lifecycle panels' reports for one view: funnel, time in stage, conversion paths.

Funnel and time in stage group like the source table (``touch_dimension``), so a drill
filter is applied the way ``connector.reports.drill`` applies it: grouped by the filtered
dimensions and ``by`` together, one parent's rows kept. Their totals count distinct visitors,
people and deals, which rows cannot be added back up to, so a drilled level has no total
row (the page says so). Paths follow the channel filter (the channel credited under the
model), as GA4's path exploration does; deeper drill filters do not apply to them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from connector.app.context import runtime
from connector.dashboard.view import View
from connector.reports import source_report_options
from connector.reports.drill import clean_where, drill_path
from connector.reports.funnel import funnel_report
from connector.reports.paths import PATH_MODELS, conversion_paths, path_options
from connector.reports.velocity import velocity_report


def _drilled(build: Callable[[str], dict[str, Any]], view: View) -> dict[str, Any]:
    """``build(by)`` at the view's level; under a drill filter, one parent's rows."""
    where = clean_where(view.where, view.by)
    if not where:
        return build(view.by)
    path, keep = drill_path(where, view.by)
    report = build(path)
    rows = []
    for row in report["rows"]:
        group = keep(row["group"])
        if group is not None:
            rows.append({**row, "group": group})
    report.update(rows=rows, by=view.by, totals=None, where=where)
    return report


def funnel(db: Session, view: View) -> dict[str, Any]:
    """The funnel in the view's mode, at its level and drill filter."""
    options = source_report_options(runtime().settings, runtime().profile)
    return _drilled(
        lambda by: funnel_report(
            db, view.rng, by=by, model=view.model, mode=view.funnel, **options
        ),
        view,
    )


def velocity(db: Session, view: View) -> dict[str, Any]:
    """Median and p75 days in each stage, at the view's level and drill filter."""
    ignore_direct = runtime().settings.attribution.ignore_direct
    return _drilled(
        lambda by: velocity_report(
            db, view.rng, by=by, model=view.model, ignore_direct=ignore_direct
        ),
        view,
    )


def paths(db: Session, view: View) -> dict[str, Any]:
    """Top paths to the view's target, credited to its channel filter if it has one."""
    model = view.model if view.model in PATH_MODELS else "last_click"
    return conversion_paths(
        db,
        view.rng,
        target=view.target,
        model=model,
        channel=view.where.get("channel"),
        **path_options(runtime().settings),
    )
