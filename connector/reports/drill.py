"""Drill-down: a report's rows for one parent, e.g. the campaigns of ``google / cpc``.

``where`` filters on any of the report dimensions (``{"channel": "Paid Search"}``) by grouping
on the filtered dimensions and ``by`` together (one joined key, see ``sources.joined``) and
keeping the groups whose parent parts match. Every query of the report stays as it is, so a
filtered row holds exactly the numbers of the same row in the unfiltered report's sense: a
lead or a deal's share is credited to one touch, and the touch's channel, source/medium,
campaign and keyword are read from that same touch. Totals are the kept rows' exact sums, so
a drilled level adds up to its parent row.

Won deals without a journey (``(no journey)``) have no dimension values, so any filter leaves
them out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from connector.reports.compare import model_comparison
from connector.reports.sources import (
    DIMENSIONS,
    PATH_SEP,
    ReportRange,
    source_report,
)

#: The drill-down order: each level's rows lead to the next level, filtered by that row.
#: ``ad`` (Meta's ad sets and ads) is the keyword's sibling, not its child: a grouping and a
#: filter, not a level.
LEVELS = ("channel", "source_medium", "campaign", "keyword")


class DrillError(ValueError):
    """A filter that cannot be applied; ``field`` names the parameter at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def clean_where(where: Mapping[str, str] | None, by: str) -> dict[str, str]:
    """The filters in level order, checked: known dimensions, not the grouped one."""
    out: dict[str, str] = {}
    for key, value in (where or {}).items():
        if key not in DIMENSIONS:
            raise DrillError(key, f"unknown dimension; use one of {', '.join(DIMENSIONS)}")
        if key == by:
            raise DrillError(key, f"cannot filter on the dimension grouped by ({by})")
        if not value or PATH_SEP in value or "\x00" in value:
            raise DrillError(key, "must be a non-empty group name without control characters")
        out[key] = value
    return {key: out[key] for key in DIMENSIONS if key in out}


def drill_path(where: dict[str, str], by: str) -> tuple[str, Callable[[str], str | None]]:
    """The joined grouping for ``where`` and ``by``, and the key filter that undoes it."""
    wanted = list(where.values())
    path = PATH_SEP.join([*where, by])

    def keep(key: str) -> str | None:
        parts = key.split(PATH_SEP)
        if len(parts) != len(wanted) + 1 or parts[:-1] != wanted:
            return None
        return parts[-1]

    return path, keep


def drilled_source_report(
    session: Session,
    rng: ReportRange,
    *,
    by: str = "channel",
    where: Mapping[str, str] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """:func:`source_report` restricted to ``where``; the same report when it is empty."""
    if by not in DIMENSIONS:
        raise DrillError("by", f"must be one of {', '.join(DIMENSIONS)}")
    filters = clean_where(where, by)
    if not filters:
        report = source_report(session, rng, by=by, **options)
    else:
        path, keep = drill_path(filters, by)
        report = source_report(session, rng, by=path, regroup=keep, **options)
        report["by"] = by
    report["where"] = filters
    return report


def drilled_model_comparison(
    session: Session,
    rng: ReportRange,
    *,
    by: str = "channel",
    where: Mapping[str, str] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """:func:`model_comparison` restricted to ``where`` (its rows; it has no totals)."""
    filters = clean_where(where, by)
    if not filters:
        report = model_comparison(session, rng, by=by, **options)
    else:
        path, keep = drill_path(filters, by)
        report = model_comparison(session, rng, by=path, **options)
        rows = []
        for row in report["rows"]:
            group = keep(row["group"])
            if group is not None:
                rows.append({**row, "group": group})
        report["rows"], report["by"] = rows, by
    report["where"] = filters
    return report


def next_level(by: str) -> str | None:
    """The level a row of ``by`` drills into, or None at the deepest one."""
    if by not in LEVELS:
        return None
    index = LEVELS.index(by)
    return LEVELS[index + 1] if index + 1 < len(LEVELS) else None
