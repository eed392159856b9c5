"""``PlatformStatus`` after a delivery pass, for /readyz, /metrics and the dashboard."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from connector.outbox.summary import PlatformSummary
from connector.storage.models import PlatformStatus


def succeeded(summary: PlatformSummary) -> bool:
    """A pass succeeded unless it paused on an error, or every request it made failed."""
    if summary.error:
        return False
    return not summary.request_failures or summary.requests > summary.request_failures


def update_status(
    sessions: sessionmaker[Session],
    summary: PlatformSummary,
    *,
    now: datetime,
    run_id: int | None,
) -> None:
    """Record the pass: attempt time, run, success time, and the error a human should see."""
    try:
        _write(sessions, summary, now=now, run_id=run_id)
    except IntegrityError:  # another worker created the row at the same moment
        _write(sessions, summary, now=now, run_id=run_id)


def _write(
    sessions: sessionmaker[Session],
    summary: PlatformSummary,
    *,
    now: datetime,
    run_id: int | None,
) -> None:
    ok = succeeded(summary)
    with sessions.begin() as session:
        status = session.get(PlatformStatus, summary.platform, with_for_update=True)
        if status is None:
            status = PlatformStatus(platform=summary.platform)
            session.add(status)
        status.last_attempt_at = now
        if run_id is not None:
            status.last_run_id = run_id
        if ok:
            status.last_success_at = now
            status.last_error = None
        else:
            status.last_error = summary.error or summary.last_failure
