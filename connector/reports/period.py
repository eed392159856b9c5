"""Period-over-period: a report's figures beside the previous range of the same length.

``compare=previous`` (API) or ``--compare previous`` (CLI): for the range ``from..to`` of
``n`` days, the previous range is the ``n`` days just before ``from``. Each row of the report
(matched by its group) and the totals row get a ``previous`` block: for every count, money
column and KPI, the previous value, the change (current - previous) and the change in percent
of the previous value (``None`` when the previous value is 0 or either value is undefined).
A group that had figures only in the previous range gets no row of its own; its previous
figures still count in the totals' previous values.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from connector.reports.ranges import RangeError
from connector.reports.sources import ReportRange

COMPARISONS = ("previous",)
#: Row keys that are labels or lists, not figures to compare.
_NOT_FIGURES = ("group", "kpis", "previous")


def previous_range(rng: ReportRange) -> ReportRange:
    """The range of the same number of days that ends the day before ``rng`` starts.

    Raises :class:`RangeError` naming ``from`` when the calendar has no such range (a range
    starting near year 1), so callers answer 400 instead of failing on the date arithmetic.
    """
    days = (rng.end - rng.start).days + 1
    try:
        return ReportRange(rng.start - timedelta(days=days), rng.start - timedelta(days=1))
    except OverflowError:
        raise RangeError(
            "from", f"no {days} days before {rng.start.isoformat()} to compare with"
        ) from None


def change(current: Any, previous: Any) -> dict[str, Any]:
    """Previous value, absolute change and percent change (a fraction, 4 decimals)."""
    if current is None or previous is None:
        return {"previous": previous, "change": None, "change_pct": None}
    now, before = Decimal(str(current)), Decimal(str(previous))
    pct = None
    if before != 0:
        pct = ((now - before) / abs(before)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    return {"previous": previous, "change": _plain(now - before), "change_pct": pct}


def _plain(value: Decimal) -> Decimal:
    """3.0000 as 3, keeping real fractions."""
    return value.to_integral_value() if value == value.to_integral_value() else value.normalize()


def compare_row(current: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    """The ``previous`` block of one row: every figure and every KPI."""
    before = previous or {}
    block: dict[str, Any] = {}
    for key, value in current.items():
        if key in _NOT_FIGURES or isinstance(value, (str, list, dict, bool)):
            continue
        block[key] = change(value, before.get(key, _zero_like(value)))
    kpis_before = before.get("kpis") or {}
    block["kpis"] = {
        key: change(value, kpis_before.get(key)) for key, value in current.get("kpis", {}).items()
    }
    return block


def _zero_like(value: Any) -> Any:
    """A group absent from the previous range had nothing there: 0, or undefined for None."""
    return None if value is None else 0


def with_previous(
    report: dict[str, Any], run: Callable[[ReportRange], dict[str, Any]], rng: ReportRange
) -> dict[str, Any]:
    """``report`` with each row's and the totals' ``previous`` block and the previous range.

    ``run`` makes the same report (same grouping, model, options) for another range.
    """
    earlier_range = previous_range(rng)
    earlier = run(earlier_range)
    by_group = {row["group"]: row for row in earlier["rows"]}
    for row in report["rows"]:
        row["previous"] = compare_row(row, by_group.get(row["group"]))
    report["totals"]["previous"] = compare_row(report["totals"], earlier["totals"])
    report["compare"] = {
        "with": "previous",
        "range": {"from": earlier_range.start.isoformat(), "to": earlier_range.end.isoformat()},
    }
    return report
