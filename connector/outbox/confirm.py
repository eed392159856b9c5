"""Rows handed over and awaiting the platform's verdict: ask when due, record the answer.

A destination whose ``send`` answers ``Confirming`` (the platform took the items for processing
and reports the outcome later, as Data Manager's ``RetrieveRequestStatus`` does) declares a
``ConfirmSchedule`` and a ``confirm(refs)`` call. Its rows wait in status ``confirming`` with
the platform's reference in ``platform_ref``, the hand-over time in ``delivered_at`` and the
next check in ``next_attempt_at``. Each delivery pass first asks about the due ones, and again
after sending (a schedule whose first check is immediate is answered in the same pass).

Rows are claimed by reference, every row of a reference at once, so that one look-up answers
them all: the number of look-ups is the number of distinct references due, never the number
of rows. A claim works as for sending (``claimed_by``/``claimed_until``): a worker that dies
leaves its rows confirming, the claim expires, and the next pass asks again; nothing is ever
sent again from here. The verdict:

| answer for the reference   | row                                                          |
| -------------------------- | ------------------------------------------------------------ |
| Accepted (maybe a warning) | accepted; ``delivered_at`` stays the hand-over time          |
| Rejected                   | rejected with the platform's code and message                |
| Confirming, Retry, missing | confirming; next check after as long as it has waited so far |
|                            | (at least the first wait, at most ``max_interval_seconds``)  |
| any of those past the end  | dead, ``CONFIRMATION_TIMEOUT``: handed over, never confirmed |

A dead ``CONFIRMATION_TIMEOUT`` row is listed by ``closedloop outbox`` and re-sent by ``outbox
retry``: platforms that confirm asynchronously dedup by our key, so a resend of an event they
did keep is answered as a duplicate, not counted twice.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from connector.errors import PermanentPlatformError, RetryablePlatformError
from connector.outbox.claim import due_rows
from connector.outbox.outcomes import cut_code
from connector.outbox.summary import (
    ACCEPTED,
    CONFIRMING,
    DEAD,
    REJECTED,
    PlatformSummary,
)
from connector.storage.models import Conversion
from platforms.base import Accepted, Confirming, ConfirmSchedule, Destination, Rejected, Retry

log = logging.getLogger(__name__)

#: References asked about per claim (each is one look-up at the platform).
REFS_PER_CHUNK = 50
TIMEOUT = "CONFIRMATION_TIMEOUT"


def _due(destination: str, due_before: datetime, now: datetime) -> ColumnElement[bool]:
    """Confirming rows of ``destination`` whose check is due and that no live claim holds."""
    return due_rows(destination, due_before, now, status=CONFIRMING)


@dataclass(frozen=True)
class Waiting:
    """One claimed confirming row: what deciding its next step needs."""

    id: int
    ref: str | None
    handed_at: datetime | None


@dataclass
class ConfirmPass:
    """Ask one destination about its due confirming rows, reference by reference."""

    sessions: sessionmaker[Session]
    adapter: Destination
    destination: str
    schedule: ConfirmSchedule
    worker: str
    claim_seconds: float
    clock: Callable[[], datetime]
    summary: PlatformSummary
    run_id: int | None = None
    #: Rows handed over in this same pass: their ``confirming`` count is replaced by the
    #: verdict, so the pass's figures count each row once.
    handed: set[int] = field(default_factory=set)
    #: Called between chunks (the sync lease renewal).
    heartbeat: Callable[[], None] | None = None

    def run(self) -> bool:
        """Check everything due now; False when the platform refused us (pause the pass)."""
        due_before = self.clock()
        asked: set[str] = set()
        while True:
            if self.heartbeat is not None:
                self.heartbeat()
            rows = self._claim(due_before, asked)
            if not rows:
                return True
            refs = sorted({r.ref for r in rows if r.ref})
            asked.update(refs)
            try:
                answers = self._ask(refs)
            except PermanentPlatformError as exc:
                self._release(rows)
                message = f"{exc.code}: {exc}" if exc.code else str(exc)
                self.summary.error = self.summary.error or message
                log.error("%s paused for this run: %s", self.destination, message)
                return False
            self._record(rows, answers)

    # -- claim ---------------------------------------------------------------------------------
    def _claim(self, due_before: datetime, asked: set[str]) -> list[Waiting]:
        """Claim every row of up to ``REFS_PER_CHUNK`` due references (oldest due first)."""
        now = self.clock()
        until = now + timedelta(seconds=self.claim_seconds)
        due = _due(self.destination, due_before, now)
        with self.sessions.begin() as session:
            refs_stmt = (
                select(Conversion.platform_ref)
                .where(due)
                .group_by(Conversion.platform_ref)
                .order_by(func.min(Conversion.next_attempt_at), Conversion.platform_ref)
                .limit(REFS_PER_CHUNK + len(asked))
            )
            refs = [r for r in session.scalars(refs_stmt) if r not in asked][:REFS_PER_CHUNK]
            if not refs:
                return []
            with_ref = [r for r in refs if r is not None]
            which = Conversion.platform_ref.in_(with_ref)
            if len(with_ref) < len(refs):  # a confirming row without a reference: settle it
                which = or_(which, Conversion.platform_ref.is_(None))
            # Conditional update: a row another worker claimed in between is not taken.
            session.execute(
                update(Conversion)
                .where(due, which)
                .values(claimed_by=self.worker, claimed_until=until)
                .execution_options(synchronize_session=False)
            )
            claimed = session.execute(
                select(Conversion.id, Conversion.platform_ref, Conversion.delivered_at).where(
                    Conversion.destination == self.destination,
                    Conversion.status == CONFIRMING,
                    Conversion.claimed_by == self.worker,
                    Conversion.claimed_until >= now,
                    which,
                )
            ).all()
        return [Waiting(*row) for row in claimed]

    def _release(self, rows: list[Waiting]) -> None:
        self._write([(r.id, {}) for r in rows])

    # -- ask -----------------------------------------------------------------------------------
    def _ask(self, refs: list[str]) -> dict[str, Any]:
        """The adapter's verdicts; a failure of the whole call leaves every ref unknown."""
        if not refs:
            return {}
        self.summary.lookups += len(refs)
        try:
            return dict(self.adapter.confirm(refs))
        except PermanentPlatformError:
            raise
        except RetryablePlatformError as exc:
            code = exc.code or "RETRYABLE_PLATFORM_ERROR"
            return dict.fromkeys(refs, Retry(code, str(exc), exc.retry_after))
        except Exception as exc:  # an adapter bug or the network: ask again later
            log.warning("%s: confirm failed, will ask again: %s", self.destination, exc)
            return dict.fromkeys(refs, Retry("CONFIRM_ERROR", f"{type(exc).__name__}: {exc}"))

    def _failed(self, message: str) -> None:
        self.summary.request_failures += 1
        self.summary.last_failure = message

    # -- record --------------------------------------------------------------------------------
    def _record(self, rows: list[Waiting], answers: dict[str, Any]) -> None:
        now = self.clock()
        for answer in answers.values():  # a look-up the platform failed (429, unknown id...)
            if isinstance(answer, Retry):
                self._failed(f"{answer.code}: {answer.message}")
        updates = []
        for row in rows:
            answer = answers.get(row.ref) if row.ref else Accepted(ref=None)
            label, code, message, values = self.decide(row, answer, now)
            if label is not None:
                if row.id in self.handed:
                    self._uncount_handover()
                self.summary.add(label, code, message)
            updates.append((row.id, values))
        self._write(updates)

    def decide(
        self, row: Waiting, answer: Any, now: datetime
    ) -> tuple[str | None, str | None, str | None, dict[str, Any]]:
        """(summary label or None while still waiting, code, message, column values)."""
        if isinstance(answer, Accepted):
            values: dict[str, Any] = {
                "status": ACCEPTED,
                "next_attempt_at": None,
                "reason_code": cut_code(answer.code),
                "reason": answer.message,
            }
            if answer.diagnostics is not None:
                values["diagnostics"] = answer.diagnostics
            return ACCEPTED, answer.code, answer.message, values
        if isinstance(answer, Rejected):
            values = {
                "status": REJECTED,
                "next_attempt_at": None,
                "reason_code": cut_code(answer.code),
                "reason": answer.message,
            }
            return REJECTED, answer.code, answer.message, values
        handed = row.handed_at or now
        waited = max(0.0, (now - handed).total_seconds())
        why = _still(answer)
        if waited >= self.schedule.give_up_seconds:
            hours = self.schedule.give_up_seconds / 3600
            message = (
                f"handed over to {self.destination} as {row.ref} at {handed:%Y-%m-%d %H:%M} UTC, "
                f"but no final status within {hours:g} h (last: {why}); "
                "`closedloop outbox retry --reason CONFIRMATION_TIMEOUT` sends it again, "
                "and the platform dedups by our key"
            )
            values = {
                "status": DEAD,
                "next_attempt_at": None,
                "reason_code": TIMEOUT,
                "reason": message,
            }
            return DEAD, TIMEOUT, message, values
        wait = min(
            max(waited, self.schedule.first_seconds, 1.0), self.schedule.max_interval_seconds
        )
        if isinstance(answer, Retry) and answer.after_seconds:
            wait = max(wait, answer.after_seconds)
        last = handed + timedelta(seconds=self.schedule.give_up_seconds)
        values = {"next_attempt_at": min(now + timedelta(seconds=wait), last)}
        if isinstance(answer, Confirming) and answer.diagnostics is not None:
            values["diagnostics"] = answer.diagnostics
        if isinstance(answer, Retry):
            values["reason_code"], values["reason"] = cut_code(answer.code), answer.message
        return None, None, None, values

    def _uncount_handover(self) -> None:
        self.summary.counts[CONFIRMING] -= 1
        if self.summary.counts[CONFIRMING] <= 0:
            del self.summary.counts[CONFIRMING]

    def _write(self, updates: list[tuple[int, dict[str, Any]]]) -> None:
        """One transaction: every verdict stored and every claim freed, or none."""
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for row_id, values in updates:
            values = {**values, "claimed_by": None, "claimed_until": None}
            if self.run_id is not None and "status" in values:
                values["run_id"] = self.run_id
            groups[tuple(sorted(values))].append(
                {"_id": row_id, **{f"v_{k}": v for k, v in values.items()}}
            )
        if not groups:
            return
        table = Conversion.__table__
        with self.sessions.begin() as session:
            for columns, params in groups.items():
                stmt = (
                    update(table)
                    .where(table.c.id == bindparam("_id"), table.c.claimed_by == self.worker)
                    .values({column: bindparam(f"v_{column}") for column in columns})
                )
                session.connection().execute(stmt, params)


def _still(answer: Any) -> str:
    """Why a reference has no verdict yet, in words."""
    if isinstance(answer, Retry):
        return f"{answer.code}: {answer.message}"
    if isinstance(answer, Confirming):
        return "still processing"
    return "no answer for this reference"
