"""Run the CRM write-back off the request path: a daemon thread per process, and a job.

``/identify`` only wakes the thread; the thread drains due leads and then sleeps until woken
or until the poll interval passes (to pick up retries). Claims are conditional updates in the
database, so one thread per gunicorn worker (and the scheduler's ``writeback_job``) can all
run at once without writing a lead twice.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import platforms
from connector.counters import WRITEBACK_FAILURES
from connector.runtime import Runtime
from connector.storage.models import utcnow
from connector.tracking.writeback import process_pending

log = logging.getLogger(__name__)

POLL_SECONDS = 30.0


def crm_source(runtime: Runtime) -> Any:
    """The CRM source the mapping profile names (``crm:``), built through the registry."""
    settings = runtime.settings
    profile = runtime.profile
    source_class = platforms.load(platforms.CRM_SOURCES[profile.crm])
    return source_class(
        getattr(settings.platforms, profile.crm),
        profile,
        timeout=settings.delivery.request_timeout_seconds,
    )


def _crm_enabled(runtime: Runtime) -> bool:
    """Whether the profile's CRM is switched on."""
    return bool(getattr(runtime.settings.platforms, runtime.profile.crm).enabled)


def drain(runtime: Runtime, source: Any) -> dict[str, int]:
    """Process due leads until none are left; summed counts."""
    total = {"claimed": 0, "written": 0, "retry": 0, "failed": 0}
    while True:
        counts = process_pending(runtime, source, utcnow())
        for key, value in counts.items():
            total[key] += value
        for outcome in ("retry", "failed"):
            if counts.get(outcome):
                runtime.counters.add(WRITEBACK_FAILURES, outcome, amount=counts[outcome])
        if not counts["claimed"]:
            return total


def writeback_job(runtime: Runtime) -> dict[str, int]:
    """One write-back pass, for APScheduler (no-op when the CRM is off)."""
    if not _crm_enabled(runtime):
        return {"claimed": 0, "written": 0, "retry": 0, "failed": 0}
    return drain(runtime, crm_source(runtime))


class WritebackWorker:
    """A daemon thread that writes leads back to the CRM when woken."""

    def __init__(
        self, runtime: Runtime, *, poll_seconds: float = POLL_SECONDS, autostart: bool = True
    ) -> None:
        self.runtime = runtime
        self.poll_seconds = poll_seconds
        #: False leaves write-back to ``writeback_job`` (or a test driving ``process_pending``).
        self.autostart = autostart
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._source: Any = None
        self._passes = threading.Condition()
        self._requested = self._completed = 0
        runtime.on_close(self.stop)

    @property
    def enabled(self) -> bool:
        """Only when the CRM is switched on."""
        return _crm_enabled(self.runtime)

    def ensure_started(self) -> bool:
        """Start the thread if it should run and does not yet (cheap; called per request).

        Started from a request, not at app creation, so that it runs in each gunicorn worker
        after the fork; once running it also picks up retries left by an earlier process.
        """
        if not self.enabled or not self.autostart:
            return False
        if self._thread is not None and self._thread.is_alive():
            return True
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(
                    target=self._run, name="closedloop-crm-writeback", daemon=True
                )
                self._thread.start()
        return True

    def wake(self) -> None:
        """Let the thread run a pass now (starting it if needed)."""
        if not self.ensure_started():
            return
        with self._passes:
            self._requested += 1
        self._wake.set()

    def wait_idle(self, timeout: float) -> bool:
        """Block until a pass started after the latest ``wake`` has finished (False on timeout)."""
        with self._passes:
            return self._passes.wait_for(lambda: self._completed >= self._requested, timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to finish its pass and exit."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        first = True
        while not self._stop.is_set():
            if not first:
                self._wake.wait(self.poll_seconds)
            first = False
            self._wake.clear()
            if self._stop.is_set():
                return
            with self._passes:
                requested = self._requested
            try:
                if self._source is None:
                    self._source = crm_source(self.runtime)
                drain(self.runtime, self._source)
            except Exception:  # keep the thread alive; the leads stay due and are retried
                log.exception("CRM write-back pass failed")
            with self._passes:
                self._completed = max(self._completed, requested)
                self._passes.notify_all()
