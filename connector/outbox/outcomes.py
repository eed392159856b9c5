"""What each outcome does to an outbox row, written in the transaction that frees the claim.

| outcome            | status                  | attempts | next_attempt_at          |
| ------------------ | ----------------------- | -------- | ------------------------ |
| Accepted           | accepted (+ref, time)   | +1       | cleared                  |
| Confirming         | confirming (+ref, time) | +1       | now + first check        |
| Rejected           | rejected (+code, msg)   | +1       | cleared (never retried)  |
| Retry              | pending, or dead at max | +1       | now + backoff (hint min) |
| Skip (prepare)     | skipped (+code, reason) | same     | cleared (never retried)  |
| Wait (prepare)     | pending                 | same     | ``until``                |
| released (paused)  | pending                 | same     | same                     |

``Confirming`` (handed over, the verdict comes later) needs the adapter's declared
``confirmation()`` schedule; without one it is recorded as ``Accepted`` (the platform said
nothing more will come). ``delivered_at`` is the hand-over time either way: the row's
confirmation deadline counts from it (``connector.outbox.confirm``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session, sessionmaker

from connector.outbox.backoff import MIN_DELAY_SECONDS, RetryPolicy, Uniform
from connector.outbox.summary import (
    ACCEPTED,
    CONFIRMING,
    DEAD,
    NOT_VALIDATED,
    REJECTED,
    RETRYING,
    SKIPPED,
    WAITING,
    PlatformSummary,
)
from connector.storage.models import Conversion
from platforms.base import (
    Accepted,
    Confirming,
    ConfirmSchedule,
    NotValidated,
    Rejected,
    Retry,
    Skip,
    Validation,
    Wait,
)

#: Column widths of ``reason_code`` / ``platform_ref``: longer platform strings are cut.
CODE_MAX, REF_MAX = 128, 256


@dataclass(frozen=True)
class ItemResult:
    """The fate of one claimed row: an outcome, a prepare decision, or ``None`` (release only)."""

    row_id: int
    attempts: int
    result: Validation | Confirming | Skip | Wait | None


def classify(
    item: ItemResult,
    policy: RetryPolicy,
    now: datetime,
    rng: Uniform | None = None,
    schedule: ConfirmSchedule | None = None,
) -> tuple[str | None, str | None, dict[str, Any]]:
    """The summary label, reason code and column values for one result."""
    result = item.result
    done = {"next_attempt_at": None}
    if result is None:
        return None, None, {}
    if isinstance(result, NotValidated):  # dry runs only: the row stays as it is
        return NOT_VALIDATED, NOT_VALIDATED.upper(), {}
    if isinstance(result, Confirming):
        if schedule is None or not result.ref:  # nothing will ever be asked: final as is
            result = Accepted(ref=result.ref or None, diagnostics=result.diagnostics)
        else:
            wait = schedule.first_seconds if result.check_after is None else result.check_after
            values = {
                "status": CONFIRMING,
                "attempts": item.attempts + 1,
                "platform_ref": _cut(result.ref, REF_MAX),
                "diagnostics": result.diagnostics,
                "delivered_at": now,
                "reason_code": None,
                "reason": None,
                "next_attempt_at": now + timedelta(seconds=max(0.0, wait)),
            }
            return CONFIRMING, None, values
    if isinstance(result, Accepted):
        values = {
            "status": ACCEPTED,
            "attempts": item.attempts + 1,
            "platform_ref": _cut(result.ref, REF_MAX),
            "diagnostics": result.diagnostics,
            "delivered_at": now,
            "reason_code": _cut(result.code, CODE_MAX),
            "reason": result.message,
            **done,
        }
        return ACCEPTED, result.code, values
    if isinstance(result, Rejected):
        values = {
            "status": REJECTED,
            "attempts": item.attempts + 1,
            "reason_code": _cut(result.code, CODE_MAX),
            "reason": result.message,
            **done,
        }
        return REJECTED, result.code, values
    if isinstance(result, Skip):
        values = {
            "status": SKIPPED,
            "reason_code": _cut(result.code, CODE_MAX),
            "reason": result.reason,
            **done,
        }
        return SKIPPED, result.code, values
    if isinstance(result, Wait):
        until = max(result.until, now + timedelta(seconds=MIN_DELAY_SECONDS))
        values = {"next_attempt_at": until, "reason_code": "WAIT", "reason": result.reason}
        return WAITING, "WAIT", values
    attempts = item.attempts + 1
    base = {"attempts": attempts, "reason_code": _cut(result.code, CODE_MAX)}
    base["reason"] = result.message
    if policy.exhausted(attempts):
        return DEAD, result.code, {**base, "status": DEAD, **done}
    delay = policy.delay(attempts, result.after_seconds, rng)
    return RETRYING, result.code, {**base, "next_attempt_at": now + timedelta(seconds=delay)}


def record(
    sessions: sessionmaker[Session],
    items: list[ItemResult],
    *,
    worker: str,
    policy: RetryPolicy,
    now: datetime,
    summary: PlatformSummary,
    run_id: int | None = None,
    write: bool = True,
    rng: Uniform | None = None,
    schedule: ConfirmSchedule | None = None,
) -> None:
    """Tally every result; unless ``write`` is off (dry run), store it and free the claims.

    One transaction for the whole chunk: either every outcome is stored and every claim freed,
    or (on a crash) nothing is and the claims expire, so the rows are resent with their dedup
    keys. Rows whose claim was taken over by another worker are left to that worker.
    """
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        label, code, values = classify(item, policy, now, rng, schedule)
        if label is not None:
            summary.add(label, code, _message(item.result))
        values = {**values, "claimed_by": None, "claimed_until": None}
        if run_id is not None:
            values["run_id"] = run_id
        groups[tuple(sorted(values))].append(
            {"_id": item.row_id, **{f"v_{k}": v for k, v in values.items()}}
        )
    if not write or not groups:
        return
    table = Conversion.__table__
    with sessions.begin() as session:
        for columns, params in groups.items():
            stmt = (
                update(table)
                .where(table.c.id == bindparam("_id"), table.c.claimed_by == worker)
                .values({column: bindparam(f"v_{column}") for column in columns})
            )
            session.connection().execute(stmt, params)


def _message(result: Validation | Confirming | Skip | Wait | None) -> str | None:
    """The human reason a result carries (the platform's own message for a rejection)."""
    if isinstance(result, Rejected | Retry | Accepted):
        return result.message
    if isinstance(result, Skip | Wait | NotValidated):
        return result.reason
    return None


def _cut(text: str | None, limit: int) -> str | None:
    return text[:limit] if text else text


def cut_code(code: str | None) -> str | None:
    """A platform's reason code cut to the ``reason_code`` column's width."""
    return _cut(code, CODE_MAX)
