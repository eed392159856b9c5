"""Date presets and the comparison period: the ranges the dashboard's range picker offers.

A preset is resolved on the server from today's UTC date, so a bookmarked ``?preset=30d``
always means the last 30 days, not the 30 days it meant when it was saved. The comparison
period is the range of the same length just before (GA4's "preceding period").
"""

from __future__ import annotations

from datetime import date, timedelta

from connector.reports import ReportRange
from connector.reports.period import previous_range

__all__ = ["PRESETS", "matching_preset", "preset_range", "previous_range"]

#: Preset keys, as the ``preset`` query parameter takes them, and their labels.
PRESETS: dict[str, str] = {
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "qtd": "Quarter to date",
    "custom": "Custom",
}
_DAYS = {"7d": 7, "30d": 30, "90d": 90}


def preset_range(preset: str, today: date) -> ReportRange | None:
    """The range a preset means today (both ends included); None for ``custom`` or unknown."""
    if preset in _DAYS:
        return ReportRange(today - timedelta(days=_DAYS[preset] - 1), today)
    if preset == "qtd":
        first_month = 3 * ((today.month - 1) // 3) + 1
        return ReportRange(date(today.year, first_month, 1), today)
    return None


def matching_preset(rng: ReportRange, today: date) -> str:
    """The preset a range is (so a custom range equal to one shows as it), else ``custom``."""
    for key in PRESETS:
        if preset_range(key, today) == rng:
            return key
    return "custom"
