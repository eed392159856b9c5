"""A posted or imported sale goes out at once: one run soon after, however many sales came.

The first sale after a quiet spell arms a timer (``revenue.sync_after_seconds``); every sale
until it fires joins the same run. The run starts the way a CRM webhook's does
(``RunService.start_background`` with no CRM deal IDs: the CRM is not polled, the revenue step
reads the new sales, delivery sends them). If a run holds the lease (a schedule, a webhook,
another process), the kick is kept and tried again every ``RETRY_SECONDS`` until a run of its
own starts: that run may have read the sales table before these sales were stored. So a
thousand posts in a second start one run, and at most one more waits behind a running one.

The wish lives in this process's memory: a process that stops before its timer fires leaves
the sales to the next scheduled run, which reads them all the same (they are rows already).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from connector.errors import LeaseHeld

log = logging.getLogger(__name__)

#: The trigger a kicked run is recorded with.
TRIGGER = "revenue"
#: Seconds between tries while another run holds the lease.
RETRY_SECONDS = 5.0


class Timer(Protocol):
    """What ``threading.Timer`` offers that the kicker uses."""

    def start(self) -> None:
        """Begin counting down."""

    def cancel(self) -> None:
        """Stop counting down."""


TimerFactory = Callable[[float, Callable[[], None]], Timer]


def _thread_timer(seconds: float, fire: Callable[[], None]) -> Timer:
    timer = threading.Timer(seconds, fire)
    timer.name = "closedloop-revenue-kick"
    timer.daemon = True
    return timer


class SyncKicker:
    """Coalesces "sales arrived" into one background run ``delay`` seconds later."""

    def __init__(
        self,
        start: Callable[..., Any],
        delay: float,
        *,
        retry: float = RETRY_SECONDS,
        timer: TimerFactory = _thread_timer,
    ) -> None:
        self._start = start
        self.delay = delay
        self.retry = retry
        self._timer_factory = timer
        self._lock = threading.Lock()
        self._wanted = False
        self._timer: Timer | None = None
        #: Runs this kicker started (for the log and the tests).
        self.started: list[int] = []

    def kick(self) -> None:
        """Sales were stored: make sure a run starts soon (one timer at a time)."""
        with self._lock:
            self._wanted = True
            if self._timer is None:
                self._arm(self.delay)

    def _arm(self, seconds: float) -> None:
        self._timer = self._timer_factory(seconds, self._fire)
        self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            self._timer = None
            if not self._wanted:
                return
            self._wanted = False
        try:
            run_id = self._start(TRIGGER, deal_ids=[])
        except LeaseHeld:
            with self._lock:
                self._wanted = True
                if self._timer is None:
                    self._arm(self.retry)
            return
        except Exception:  # a timer thread's error would vanish: log it, the schedule remains
            log.exception("could not start a run for the new sales")
            return
        self.started.append(run_id)
        log.info("run %s started for new sales", run_id)

    def cancel(self) -> None:
        """Forget a pending kick (shutdown, tests)."""
        with self._lock:
            self._wanted = False
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None


EXTENSION = "closedloop.revenue_kick"


def install(app: Any) -> SyncKicker | None:
    """Give ``app`` its kicker (once); None when ``revenue.sync_after_seconds`` is null."""
    if EXTENSION not in app.extensions:
        delay = app.extensions["closedloop"].settings.revenue.sync_after_seconds
        runs = app.extensions["closedloop.runs"]
        app.extensions[EXTENSION] = (
            None if delay is None else SyncKicker(runs.start_background, delay)
        )
    return app.extensions[EXTENSION]


def kick(app: Any) -> None:
    """Sales were stored through ``app``: a run sends them soon (unless configured off)."""
    kicker = app.extensions.get(EXTENSION)
    if kicker is not None:
        kicker.kick()
