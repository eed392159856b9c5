"""Report date ranges from user input: one parser for the API, the dashboard and the CLI.

A range is bounded so that no request can make a report (the dashboard's daily timeline above
all) grow without limit: ten years of days render in well under a second, while
``from=0001-01-01&to=9999-12-30`` used to render 142 MB. The last day must have a next day,
because reports end at the start of the day after ``to``.
"""

from __future__ import annotations

from datetime import date, timedelta

from connector.reports.sources import ReportRange

#: The longest range a report covers, in days (both ends included): ten years and leap days.
MAX_RANGE_DAYS = 3660
#: The latest ``to``: reports end at the start of the next day, which must exist.
LAST_DAY = date.max - timedelta(days=1)


class RangeError(ValueError):
    """A range that cannot be reported; ``field`` names the parameter at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def default_range(today: date, days: int = 30) -> ReportRange:
    """The last ``days`` days up to and including ``today``."""
    return ReportRange(today - timedelta(days=days - 1), today)


def parse_range(
    raw_from: str | None,
    raw_to: str | None,
    *,
    today: date,
    names: tuple[str, str] = ("from", "to"),
) -> ReportRange:
    """The range the user asked for (the last 30 days by default), or ``RangeError``.

    ``names`` are the parameter names errors use (``--from``/``--to`` on the command line).
    """
    fallback = default_range(today)
    start = _day(raw_from, names[0]) if raw_from is not None else fallback.start
    end = _day(raw_to, names[1]) if raw_to is not None else fallback.end
    if end > LAST_DAY:
        raise RangeError(names[1], f"must be {LAST_DAY.isoformat()} or earlier")
    if end < start:
        raise RangeError(names[1], f"must not be before {names[0]}")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise RangeError(names[1], f"a range may span at most {MAX_RANGE_DAYS} days")
    return ReportRange(start, end)


def _day(raw: str, name: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise RangeError(name, f"{raw[:40]!r} is not a date (use YYYY-MM-DD)") from None
