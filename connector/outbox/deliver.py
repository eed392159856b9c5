"""One destination's delivery pass: claim a chunk, prepare, batch, send, record; repeat.

A destination that declares a ``confirmation()`` schedule has its handed-over rows checked
(``connector.outbox.confirm``) before the sends and again after them.

At most ``PIPELINE_DEPTH`` chunks are held at once, so memory stays flat in the size of the
outbox. Batches of a chunk are sent in parallel when the adapter declares ``concurrency``;
adapters that fan out themselves (GA4: one request per client) get one batch at a time.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from connector.errors import PermanentPlatformError, RetryablePlatformError
from connector.outbox.backoff import RetryPolicy, Uniform
from connector.outbox.claim import claim_due, scan_due
from connector.outbox.confirm import ConfirmPass
from connector.outbox.outcomes import ItemResult, record
from connector.outbox.rows import planned_from_row
from connector.outbox.summary import PlatformSummary
from connector.storage.models import Conversion
from platforms.base import Confirming, ConfirmSchedule, Destination, Prepared, Retry, Skip, Wait

log = logging.getLogger(__name__)

#: Upper bound on rows claimed at once, whatever the batch size and concurrency.
MAX_CHUNK = 5000
#: Rows claimed at once when requests are grouped (GA4: one client per request), so that a
#: client's conversions usually fall into one chunk and share one request.
GROUPED_CHUNK = 1000
#: Chunks claimed and in progress at once (one on the wire, one being recorded or claimed).
PIPELINE_DEPTH = 2


@dataclass
class DeliveryPass:
    """Everything one destination's pass needs; ``run()`` does the work."""

    sessions: sessionmaker[Session]
    adapter: Destination
    destination: str
    worker: str
    policy: RetryPolicy
    claim_seconds: float
    clock: Callable[[], datetime]
    summary: PlatformSummary
    dry_run: bool = False
    #: Dry run: rows planned in this run but never stored (see ``SyncStep``), validated after
    #: the stored due rows.
    unsaved: list[Conversion] = field(default_factory=list)
    run_id: int | None = None
    heartbeat: Callable[[], None] | None = None
    rng: Uniform | None = None
    #: False: only ask for verdicts due (``deliver_due(confirm_only=True)``), send nothing.
    send: bool = True
    _paused: threading.Event = field(default_factory=threading.Event)
    _handed: set[int] = field(default_factory=set)
    _unsaved_at: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def concurrency(self) -> int:
        """How many ``send`` calls may run at once: the adapter's ``concurrency``, else one.

        Adapters that fan a batch out themselves (GA4 sends one request per client from its
        own pool) leave this unset, so the two never multiply.
        """
        return max(1, int(getattr(self.adapter, "concurrency", None) or 1))

    @property
    def chunk_size(self) -> int:
        """Rows claimed at once: enough to fill every parallel request."""
        size = self.adapter.max_batch * self.concurrency
        if self.adapter.groups_requests:
            size = max(size, GROUPED_CHUNK)
        return max(1, min(MAX_CHUNK, size))

    def run(self) -> PlatformSummary:
        """Deliver everything due now (as of the start of the pass), chunk by chunk.

        Chunks are pipelined: while one chunk is on the wire, the previous one's outcomes are
        recorded and the next one is claimed, so the network never waits for the database.
        At most ``PIPELINE_DEPTH`` chunks are claimed at a time. Verdicts due are asked for
        first (rows handed over in earlier runs) and once more at the end (a platform whose
        first check is immediate); a platform that refuses the look-up pauses the pass.
        """
        if not self._confirm():
            return self.summary
        if self.send:
            self._send_due()
            if not self._paused.is_set():
                self._confirm()
        return self.summary

    @property
    def schedule(self) -> ConfirmSchedule | None:
        """The adapter's verdict schedule (None: its outcomes are final when sent)."""
        declared = getattr(self.adapter, "confirmation", None)
        return declared() if callable(declared) else None

    def _confirm(self) -> bool:
        """Ask about handed-over rows now due; False when the platform paused the pass."""
        schedule = self.schedule
        if self.dry_run or schedule is None:
            return True
        done = ConfirmPass(
            sessions=self.sessions,
            adapter=self.adapter,
            destination=self.destination,
            schedule=schedule,
            worker=self.worker,
            claim_seconds=self.claim_seconds,
            clock=self.clock,
            summary=self.summary,
            run_id=self.run_id,
            handed=self._handed,
            heartbeat=self.heartbeat,
        ).run()
        if not done:
            self._paused.set()
        return done

    def _send_due(self) -> None:
        """Send every pending row due as of now, chunk by chunk (see ``run``)."""
        due_before = self.clock()
        last_id = 0
        self._unsaved_at = 0
        in_flight: deque[Future[list[ItemResult]]] = deque()
        with (
            ThreadPoolExecutor(self.concurrency, thread_name_prefix=self.destination) as pool,
            ThreadPoolExecutor(PIPELINE_DEPTH, thread_name_prefix="chunk") as chunks,
        ):
            try:
                while not self._paused.is_set():
                    if self.heartbeat is not None:
                        self.heartbeat()
                    rows = self._next_chunk(last_id, due_before)
                    if not rows:
                        break
                    last_id = rows[-1].id
                    in_flight.append(chunks.submit(self._process, rows, self.clock(), pool))
                    if len(in_flight) >= PIPELINE_DEPTH:
                        self._record(in_flight.popleft().result())
            finally:
                # Whatever stopped the loop, what was sent is recorded (or, on a crash, the
                # claims expire and the rows are resent under the same dedup keys).
                while in_flight:
                    self._record(in_flight.popleft().result())

    def _next_chunk(self, last_id: int, due_before: datetime) -> list[Conversion]:
        if self.dry_run:
            # Stored rows first (ids > 0), then the unsaved ones (ids < 0, see ``unsaved``).
            if last_id >= 0:
                stored = scan_due(
                    self.sessions,
                    self.destination,
                    after_id=last_id,
                    limit=self.chunk_size,
                    now=due_before,
                )
                if stored:
                    return stored
            start, self._unsaved_at = self._unsaved_at, self._unsaved_at + self.chunk_size
            return self.unsaved[start : self._unsaved_at]
        return claim_due(
            self.sessions,
            self.destination,
            worker=self.worker,
            limit=self.chunk_size,
            now=self.clock(),
            claim_seconds=self.claim_seconds,
            due_before=due_before,
        )

    def _record(self, results: list[ItemResult]) -> None:
        self._handed.update(r.row_id for r in results if isinstance(r.result, Confirming))
        record(
            self.sessions,
            results,
            worker=self.worker,
            policy=self.policy,
            now=self.clock(),
            summary=self.summary,
            run_id=self.run_id,
            write=not self.dry_run,
            rng=self.rng,
            schedule=self.schedule,
        )

    # -- one chunk -------------------------------------------------------------------------
    def _process(
        self, rows: list[Conversion], now: datetime, pool: ThreadPoolExecutor
    ) -> list[ItemResult]:
        attempts = {row.id: row.attempts or 0 for row in rows}
        results: list[ItemResult] = []
        ready: list[Prepared] = []
        for row in rows:
            decision = self._prepare(row, now)
            if isinstance(decision, Prepared):
                ready.append(decision)
            else:
                results.append(ItemResult(row.id, attempts[row.id], decision))
        batches = list(self._batches(ready))
        if len(batches) > 1 and self.concurrency > 1:
            sent = list(pool.map(self._send, batches))
        else:
            sent = [self._send(batch) for batch in batches]
        for batch, outcomes in zip(batches, sent, strict=True):
            for prepared, outcome in zip(batch, outcomes, strict=True):
                cid = prepared.conversion.id
                results.append(ItemResult(cid, attempts[cid], outcome))
        return results

    def _prepare(self, row: Conversion, now: datetime) -> Prepared | Skip | Wait | Retry:
        planned = planned_from_row(row)
        try:
            return self.adapter.prepare(planned, now)
        except Exception as exc:  # an adapter bug must not stop the other rows
            log.exception("%s: prepare failed for conversion %s", self.destination, planned.id)
            return Retry("PREPARE_ERROR", f"{type(exc).__name__}: {exc}")

    def _batches(self, ready: list[Prepared]) -> Iterator[list[Prepared]]:
        """Items with equal ``group_key`` (if the platform groups), at most ``max_batch`` each."""
        groups: dict[str, list[Prepared]] = {}
        for prepared in ready:
            key = self.adapter.group_key(prepared) if self.adapter.groups_requests else ""
            groups.setdefault(key, []).append(prepared)
        size = max(1, self.adapter.max_batch)
        for items in groups.values():
            for start in range(0, len(items), size):
                yield items[start : start + size]

    def _send(self, batch: list[Prepared]) -> list:
        """One request; whole-request failures become one outcome per item (or a pause)."""
        if self._paused.is_set():
            return [None] * len(batch)
        with self._lock:
            self.summary.requests += 1
        try:
            outcomes = self.adapter.validate(batch) if self.dry_run else self.adapter.send(batch)
        except PermanentPlatformError as exc:
            self._pause(exc)
            return [None] * len(batch)
        except RetryablePlatformError as exc:
            code = exc.code or "RETRYABLE_PLATFORM_ERROR"
            self._request_failed(f"{code}: {exc}")
            return [Retry(code, str(exc), exc.retry_after)] * len(batch)
        except Exception as exc:  # network error or timeout after sending: outcome unknown
            log.warning("%s: request failed, will resend: %s", self.destination, exc)
            self._request_failed(f"{type(exc).__name__}: {exc}")
            return [Retry("UNKNOWN_OUTCOME", f"{type(exc).__name__}: {exc}")] * len(batch)
        if len(outcomes) != len(batch):
            message = f"adapter answered {len(outcomes)} outcomes for {len(batch)} items"
            log.error("%s: %s", self.destination, message)
            return [Retry("ADAPTER_ERROR", message)] * len(batch)
        return outcomes

    def _request_failed(self, message: str) -> None:
        with self._lock:
            self.summary.request_failures += 1
            self.summary.last_failure = message

    def _pause(self, exc: PermanentPlatformError) -> None:
        """Stop this destination for the pass; its rows stay pending for after the fix."""
        message = f"{exc.code}: {exc}" if exc.code else str(exc)
        with self._lock:
            if not self._paused.is_set():
                self.summary.error = message
                log.error("%s paused for this run: %s", self.destination, message)
            self._paused.set()
