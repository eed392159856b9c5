"""Clock skew against the platforms' ``Date`` headers.

Platforms refuse events whose times look wrong (in the future, or before the click they credit),
and the scheduler's windows assume our clock is right.
``Date`` has one-second resolution and is stamped before the answer travels back, so the
measured skew includes up to a second plus the round trip; the limit is a minute.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from platforms.doctor import Findings

MAX_SKEW_SECONDS = 60.0


def check_clock(dates: dict[str, list[str]], findings: Findings, now: datetime) -> None:
    """One row: the worst skew against any platform's ``Date`` header seen during the run."""
    worst: tuple[float, str] | None = None
    for platform, values in dates.items():
        for value in values:
            try:
                theirs = parsedate_to_datetime(value)
            except (TypeError, ValueError):
                continue
            if theirs.tzinfo is None:
                theirs = theirs.replace(tzinfo=UTC)
            skew = (now - theirs).total_seconds()
            if worst is None or abs(skew) > abs(worst[0]):
                worst = (skew, platform)
    if worst is None:
        findings.note("clock skew", "no platform answered with a Date header to compare")
        return
    skew, platform = worst
    ahead = "ahead of" if skew > 0 else "behind"
    detail = f"{abs(skew):.0f} s {ahead} {platform}'s clock"
    if abs(skew) < MAX_SKEW_SECONDS:
        findings.ok("clock skew", detail)
    else:
        findings.fail(
            "clock skew", detail, "synchronise this host's clock (NTP: chrony, timesyncd)"
        )
