"""Platform health after a delivery pass, for /readyz, /metrics, the dashboard and the CLI."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from connector import health
from connector.outbox.summary import ACCEPTED, CONFIRMING, DEAD, RETRYING, PlatformSummary


def succeeded(summary: PlatformSummary) -> bool | None:
    """Whether the platform worked in this pass; None when the pass made no call at all.

    Failing: the pass paused on an error, or nothing it sent was accepted and requests failed
    or items came back to be retried (an adapter that fans out, like GA4's, reports a failed
    request as one retry per item rather than raising). Working: something was accepted, or
    every item got the platform's own answer. "Nothing due" made no call and proves nothing.
    Items handed over for a later verdict (``confirming``) and verdict look-ups count as calls
    that worked, like acceptances.
    """
    if summary.error:
        return False
    if not (summary.requests or summary.lookups):
        return None
    if summary.counts.get(ACCEPTED, 0) or summary.counts.get(CONFIRMING, 0):
        return True
    failed_items = summary.counts.get(RETRYING, 0) + summary.counts.get(DEAD, 0)
    return not (summary.request_failures or failed_items)


def failure_reason(summary: PlatformSummary) -> str | None:
    """The message a human should see for a failed pass."""
    if summary.error:
        return summary.error
    if summary.last_failure:
        return summary.last_failure
    return summary.top_retry_reason()


def update_status(
    sessions: sessionmaker[Session],
    summary: PlatformSummary,
    *,
    now: datetime,
    run_id: int | None,
) -> None:
    """Record the pass: attempt time, run, and the success or the error a human should see."""
    ok = succeeded(summary)
    health.record(
        sessions,
        summary.platform,
        ok=ok,
        error=failure_reason(summary) if ok is False else None,
        now=now,
        run_id=run_id,
    )
