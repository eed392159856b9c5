"""Benchmark: pull + match + plan of N closed-won deals from the HubSpot sandbox.

Three measurements, each saying what is inside it:

1. **Pull phase against its reference**: closedloop's HubSpot pull (``HubSpotSource``, pages
   of ``CrmDeal``s) and a bare ``hubspot-api-client`` loop making the same minimum requests
   (``bench/bare_hubspot.py``), run alternately ``--pull-repeat`` times against the same
   sandbox in this run; the medians, both rates and their ratio are printed (target >= 0.8).
   Wall time of that phase alone, and this process's CPU in it (the sandbox is another
   process).
2. **Own overhead**: the sync over the pages already pulled, held in memory (below).
3. **Whole sync, live**: one ``closedloop`` run (the sync step with the real HubSpot source,
   then the lifecycle step) from an empty sync state; this process's whole CPU per deal.

The sandbox runs in a child process (so its in-memory CRM does not count towards our memory)
and is seeded with N closed-won deals of 1-3 contacts each; the store gets a person, a visitor
and two touchpoints (one with a gclid) per contact. HubSpot's rate limits are lifted in the
sandbox and the client's throttle runs on a fake clock.

First every page is pulled through the real HubSpot SDK, as a sync pulls them: that gives the
requests made (against the minimum for the page and batch sizes) and the pull's own time. Then
the sync runs over those pages, held in memory: its time is our own overhead alone (matching,
attribution, planning, every database write and commit), in wall time (the database server's
work included) and in this process's CPU time, which other load on the machine inflates far
less. Memory is what the sync adds at its peak, at 10k and 100k deals alike if it does not
grow with N. On PostgreSQL the seeded tables are analyzed first, as autovacuum would have done
on a live store.

    python bench/sync.py --deals 10000 [--db postgresql+psycopg://postgres@127.0.0.1:5432/test]

At 100k-1M deals the recorded pages and the bare-SDK comparison are too big for a small
machine; ``--live-only`` runs just measurement 3, with the memory it adds, beside a same-run
reference (the bare SDK pulling the first 10,000 deals: CPU time on a shared VM moves with
the other jobs' load, and the reference moves with it). It also prints the run's CPU per
step (sync, lifecycle) and the time the cyclic garbage collector ran in it::

    python bench/sync.py --deals 100000 --live-only [--db URL]
    nice -n 10 python bench/sync.py --deals 1000000 --live-only > /tmp/sync1m.txt 2>&1 &

While it runs it prints each phase (seed store, wait for the sandbox's seeding, live sync,
reference pull) as it begins and ends, and every 30 s its progress (deals' rows seeded; deal
pages, contact reads and lifecycle pages served), closedloop's RSS now and its peak in the
phase (VmHWM, reset at each phase: "live sync" is the figure that must stay flat in n), and
the sandbox child's RSS and CPU seconds, so a slow phase shows whose it is. The sandbox seeds
in its child while this process seeds the store.

Profile with (commit the command, not the output)::

    python -m cProfile -o /tmp/p.out bench/sync.py --deals 5000 --repeat 1
    python -c "import pstats; pstats.Stats('/tmp/p.out').sort_stats('cumulative').print_stats(40)"

or, the whole live sync alone (no seeding, no reference pull in the profile)::

    nice -n 10 python bench/sync.py --deals 20000 --live-only --profile /tmp/live.prof
    python -c "import pstats; pstats.Stats('/tmp/live.prof').sort_stats('tottime').print_stats(40)"
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import faulthandler
import gc
import math
import multiprocessing as mp
import os
import random
import resource
import signal
import statistics
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# The HubSpot SDK is imported here, outside the timed run: a service imports it once when it
# starts (about 0.3 s here), not on every sync.
from bare_hubspot import bare_pull  # bench/, beside this script
from sqlalchemy import create_engine, insert, text

from connector.config import parse_config
from connector.identity import email_key
from connector.runs import RunService
from connector.runtime import Runtime
from connector.storage.models import ClickId, Person, Touchpoint, Visitor
from connector.sync import SyncStep
from connector.sync.lifecycle import LifecycleStep
from platforms.hubspot.source import HubSpotSource

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
PAGE, BATCH, ASSOC = 200, 100, 1000
#: Deals the ``--live-only`` reference (the bare SDK's pull) reads.
REFERENCE_DEALS = 10_000


def deals_plan(n: int, seed: int = 7) -> Iterator[tuple[int, int]]:
    """(deal index, number of contacts), the same in both processes."""
    rng = random.Random(seed)
    for i in range(n):
        yield i, rng.randint(1, 3)


def email(deal: int, k: int) -> str:
    return f"buyer{deal}.{k}@example.com"


def serve_sandbox(n: int, conn: Any) -> None:
    """Child process: seed and serve the sandbox until told to stop.

    It listens before it seeds, so the parent seeds its store meanwhile (on another core);
    "seeded" tells the parent the CRM is complete.
    """
    from platforms.hubspot.sandbox import HubSpotSandbox

    tick = iter(range(10**9))
    sandbox = HubSpotSandbox(
        requests_per_10s=10**9,
        search_per_second=10**9,
        now=lambda: NOW - timedelta(days=2) + timedelta(milliseconds=next(tick)),
    )
    sandbox.start()
    conn.send(sandbox.platform_config())
    close = (NOW - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    start = time.perf_counter()
    for i, contacts in deals_plan(n):
        if i and i % 100_000 == 0:
            say(f"sandbox seeding: {i:,}/{n:,} deals, sandbox RSS {rss_mb_now():.0f} MB")
        ids = [sandbox.add_contact({"email": email(i, k)}) for k in range(contacts)]
        sandbox.add_deal(
            {
                "dealname": f"D{i}",
                "amount": str(100 + i % 900),
                "deal_currency_code": "USD",
                "closedate": close,
                "dealstage": "closedwon",
            },
            ids,
        )
    # The seeded CRM lives as long as the process: keep it out of the cyclic GC's full
    # collections, which would otherwise walk millions of records while the sandbox serves.
    gc.collect()
    gc.freeze()
    say(
        f"sandbox seeded: {n:,} deals in {time.perf_counter() - start:.1f}s, "
        f"sandbox RSS {rss_mb_now():.0f} MB"
    )
    conn.send("seeded")
    while conn.recv() == "count":  # anything else: stop
        conn.send(sandbox.requests)
    conn.send(sandbox.requests)
    sandbox.stop()


def say(line: str) -> None:
    """A progress line with the time, at once (the output goes to a file on long runs)."""
    print(f"[{datetime.now(UTC):%H:%M:%S}] {line}", flush=True)


class Monitor:
    """Prints the phase, its progress and memory every ``every`` seconds from a thread.

    Memory: this process's RSS now and its peak in the phase (VmHWM, reset at each phase), and
    the sandbox child's RSS and CPU seconds, so a slow phase shows whose it is.
    """

    def __init__(self, sandbox_pid: int | None, every: float = 30.0) -> None:
        self.sandbox_pid = sandbox_pid
        self.every = every
        self.phase = "start"
        self.progress: Any = lambda: ""
        self.started = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def enter(self, phase: str, progress: Any = None) -> None:
        """Close the current phase (printing its peak RSS) and start ``phase`` afresh."""
        if self.phase != "start":
            say(f"phase {self.phase} done in {self.elapsed():.1f}s; {self.memory()}")
        reset_peak_rss()
        self.phase, self.started = phase, time.perf_counter()
        self.progress = progress or (lambda: "")
        say(f"phase {phase} begins")

    def elapsed(self) -> float:
        """Seconds since the current phase began."""
        return time.perf_counter() - self.started

    def memory(self) -> str:
        """This process's RSS and phase peak; the sandbox's RSS and CPU."""
        text = f"closedloop RSS {rss_mb_now():.0f} MB, peak in phase {rss_mb():.0f} MB"
        if self.sandbox_pid:
            rss, cpu = child_usage(self.sandbox_pid)
            text += f"; sandbox RSS {rss:.0f} MB, {cpu:.0f} CPU-s"
        return text

    def stop(self) -> None:
        """Close the last phase."""
        self._stop.set()
        say(f"phase {self.phase} done in {self.elapsed():.1f}s; {self.memory()}")

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            progress = self.progress()
            say(
                f"  {self.phase} {self.elapsed():.0f}s{': ' + progress if progress else ''}; "
                f"{self.memory()}"
            )


def child_usage(pid: int) -> tuple[float, float]:
    """Another process's RSS in MB and CPU seconds (user + system), from /proc (Linux)."""
    try:
        rss = 0.0
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return rss, cpu
    except (OSError, IndexError, ValueError):
        return 0.0, 0.0


def seed_store(runtime: Runtime, n: int, done: list[int] | None = None) -> None:
    """A person, a visitor and two touchpoints (one with a gclid) per contact.

    ``done``: its first item is kept at the number of deals seeded so far (for progress).
    """
    pid = vid = tid = 0
    people, visitors, touches, clicks = [], [], [], []

    def flush() -> None:
        with runtime.engine.begin() as conn:
            for table, rows in (
                (Person, people),
                (Visitor, visitors),
                (Touchpoint, touches),
                (ClickId, clicks),
            ):
                if rows:
                    conn.execute(insert(table), rows)
        for rows in (people, visitors, touches, clicks):
            rows.clear()

    for i, contacts in deals_plan(n):
        for k in range(contacts):
            pid += 1
            vid += 1
            people.append({"id": pid, "email_sha256": email_key(email(i, k))})
            v = f"v{vid}"
            visitors.append(
                {
                    "id": v,
                    "person_id": pid,
                    "ga_client_id": f"{vid}.1",
                    "first_seen_at": NOW - timedelta(days=30),
                    "last_seen_at": NOW,
                }
            )
            for days, gclid in ((20, None), (5, f"G{vid}")):
                tid += 1
                at = NOW - timedelta(days=days)
                touches.append(
                    {
                        "id": tid,
                        "visitor_id": v,
                        "occurred_at": at,
                        "url": "https://x/",
                        "channel": "Paid Search" if gclid else "Direct",
                        "click_ids": {"gclid": gclid} if gclid else None,
                        "received_at": at,
                        "is_new_session": True,
                    }
                )
                if gclid:
                    clicks.append(
                        {
                            "visitor_id": v,
                            "kind": "gclid",
                            "value": gclid,
                            "first_seen_at": at,
                            "touchpoint_id": tid,
                        }
                    )
        if len(touches) >= 20000:
            flush()
            if done is not None:
                done[0] = i + 1
    flush()


def minimum_requests(n: int) -> dict[str, int]:
    """The fewest requests per endpoint for pages of 200.

    Pipelines once, then per page one search, its association batches and contact batch
    reads (the contacts of the page's deals, 100 per read).
    """
    least = {"pipelines": 1, "deal_search": 0, "associations": 0, "contact_batch_read": 0}
    page: list[int] = []

    def close(page: list[int]) -> None:
        least["deal_search"] += 1
        least["associations"] += math.ceil(len(page) / ASSOC)
        least["contact_batch_read"] += math.ceil(sum(page) / BATCH)

    for _, contacts in deals_plan(n):
        page.append(contacts)
        if len(page) == PAGE:
            close(page)
            page = []
    if page:
        close(page)
    return least


class FakeClock:
    """Lets the client's throttle 'wait' without waiting (the sandbox limits are lifted)."""

    def __init__(self) -> None:
        self.t = 0.0

    def clock(self) -> float:
        """The fake monotonic time."""
        return self.t

    def sleep(self, seconds: float) -> None:
        """Advance instead of waiting (a little extra: float rounding must not stall time)."""
        self.t += seconds + 1e-6


class RecordedSource:
    """The pages one real pull read (HubSpot SDK against the sandbox), handed out again.

    The timed sync reads these instead of the network, so its time is ours alone: nothing to
    subtract, and the sandbox's speed (which varies with the machine's load) does not enter.
    """

    def __init__(self, pipelines: Any, pages: list[Any], requests: int) -> None:
        self._pipelines = pipelines
        self._pages = pages
        self.requests_made = requests

    def pipelines(self) -> Any:
        """The pipelines read."""
        return self._pipelines

    def deals_by_id(self, ids: list[str]) -> Any:
        """Not used by the benchmark."""
        raise NotImplementedError

    def deals_changed_since(self, since: Any, *, progress: Any = None) -> Iterator[Any]:
        """Every page read, in order."""
        yield from self._pages


class Sandbox:
    """The sandbox child process, asked for its request count between measurements."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def served(self) -> int:
        """Requests the sandbox has answered so far."""
        self.conn.send("count")
        return int(self.conn.recv())


def compare_pulls(
    settings: Any, runtime: Runtime, sandbox: Sandbox, repeat: int
) -> dict[str, list[tuple[float, float, int]]]:
    """Closedloop's pull and the bare SDK loop, alternately: (wall s, CPU s, requests) each."""
    hubspot = settings.platforms.hubspot
    profile = runtime.profile
    token = hubspot.access_token.get_secret_value()
    runs: dict[str, list[tuple[float, float, int]]] = {"closedloop": [], "bare SDK": []}

    def closedloop() -> None:
        fake = FakeClock()
        source = HubSpotSource(hubspot, profile, clock=fake.clock, sleep=fake.sleep)
        for _page in source.deals_changed_since(None):
            pass

    def bare() -> None:
        bare_pull(
            hubspot.base_url,
            token,
            profile.deal.modified,
            profile.deal_properties(),
            profile.contact_properties(),
        )

    for _ in range(repeat):
        for name, pull in (("bare SDK", bare), ("closedloop", closedloop)):
            gc.collect()
            before = sandbox.served()
            start, cpu = time.perf_counter(), time.process_time()
            pull()
            wall, cpu_s = time.perf_counter() - start, time.process_time() - cpu
            runs[name].append((wall, cpu_s, sandbox.served() - before))
    return runs


def live_sync(
    runtime: Runtime,
    settings: Any,
    sources: list[HubSpotSource] | None = None,
    profile_to: str | None = None,
) -> tuple[float, float, dict[str, int], Any]:
    """One whole run (sync with the real HubSpot source, then lifecycle): wall, CPU, requests.

    ``sources``: the HubSpot sources the run makes are appended to it (progress reads them).
    ``profile_to``: cProfile the run (this thread only: on PostgreSQL the writer thread's
    share is not in it) into that file.
    """
    fake = FakeClock()
    sources = [] if sources is None else sources

    def source(s: Any, profile: Any) -> HubSpotSource:
        made = HubSpotSource(s.platforms.hubspot, profile, clock=fake.clock, sleep=fake.sleep)
        sources.append(made)
        return made

    steps = [
        TimedStep(SyncStep(source_factory=source, now=lambda: NOW)),
        TimedStep(LifecycleStep(source_factory=source)),
    ]
    service = RunService(runtime, steps=steps)
    gc.collect()
    profiler = cProfile.Profile() if profile_to else None
    collecting = GcTimer()
    start, cpu = time.perf_counter(), time.process_time()
    with profiler or contextlib.nullcontext(), collecting:
        run_id, _status = service.run_now("bench-live")
    wall, cpu_s = time.perf_counter() - start, time.process_time() - cpu
    if profiler is not None:
        profiler.dump_stats(profile_to)
    LAST_BREAKDOWN.clear()
    LAST_BREAKDOWN.update({step.name: step.cpu for step in steps})
    LAST_BREAKDOWN["gc"] = collecting.seconds
    made: dict[str, int] = {}
    for one in sources:
        for endpoint, count in one.client.requests_by_endpoint.items():
            made[endpoint] = made.get(endpoint, 0) + count
    return wall, cpu_s, made, run_id


#: The last live run's CPU seconds per step, and (``gc``) the cyclic collector's time in it.
LAST_BREAKDOWN: dict[str, float] = {}


class TimedStep:
    """A run step, counting this process's CPU seconds spent in it (``cpu``)."""

    def __init__(self, step: Any) -> None:
        self.step = step
        self.name = step.name
        self.cpu = 0.0

    def __call__(self, ctx: Any) -> None:
        """Run the step, adding its CPU time to ``cpu``."""
        start = time.process_time()
        try:
            self.step(ctx)
        finally:
            self.cpu += time.process_time() - start


class GcTimer:
    """While entered: the seconds the cyclic garbage collector runs (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def _callback(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started

    def __enter__(self) -> GcTimer:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)


def forget_sync(runtime: Runtime) -> None:
    """Empty what a sync wrote, so the next run finds every deal new again."""
    tables = (
        "conversions",
        "attributions",
        "deal_stage_events",
        "deals",
        "cursors",
        "crm_stages",
        "lifecycle_events",
    )
    with runtime.engine.begin() as conn:
        if runtime.engine.dialect.name == "postgresql":
            conn.exec_driver_sql(f"TRUNCATE {', '.join(tables)}")
        else:
            for table in tables:
                conn.exec_driver_sql(f"DELETE FROM {table}")


def record_pull(
    settings: Any, runtime: Runtime, fake: FakeClock
) -> tuple[RecordedSource, float, float, dict[str, int]]:
    """Read every page through the real SDK, as a sync would; keep them for the timed run.

    Returns the recording, the pull's wall and CPU seconds, and its requests by endpoint.
    """
    source = HubSpotSource(
        settings.platforms.hubspot, runtime.profile, clock=fake.clock, sleep=fake.sleep
    )
    start, cpu = time.perf_counter(), time.process_time()
    pipelines = source.pipelines()
    pages = list(source.deals_changed_since(None))
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    recording = RecordedSource(pipelines, pages, source.requests_made)
    return recording, seconds, cpu_seconds, dict(source.client.requests_by_endpoint)


def rss_mb_now() -> float:
    """Resident set size now, in MB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return rss_mb()


def rss_mb() -> float:
    """Peak resident set size of this process since the last reset, in MB (Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> None:
    """Start peak-RSS measurement afresh (Linux: writing 5 to clear_refs resets VmHWM)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def database_url(db: str | None, workdir: Path) -> tuple[str, Any]:
    if not db:
        return f"sqlite:///{workdir / 'bench.db'}", None
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(db)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return f"{db}?options=-csearch_path%3D{schema}", drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=10_000)
    parser.add_argument("--db", help="PostgreSQL URL (default: a temporary SQLite file)")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="sync the pulled pages this many times, from an empty sync state (default 3)",
    )
    parser.add_argument(
        "--pull-repeat",
        type=int,
        default=3,
        help="pull with closedloop and with the bare SDK this many times each (default 3)",
    )
    parser.add_argument(
        "--live-only",
        action="store_true",
        help="seed, then only the whole live sync: its CPU per deal and the memory it adds "
        "(no recorded pull, no pull comparison; for 100k-1M deals on a small machine)",
    )
    parser.add_argument(
        "--profile",
        metavar="PATH",
        help="with --live-only: cProfile the live sync alone (not the seeding or the "
        "reference pull) into PATH; its CPU figure then includes the profiler's overhead",
    )
    args = parser.parse_args()
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>` prints where it is
    n = args.deals

    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=serve_sandbox, args=(n, child), daemon=True)
    proc.start()
    with tempfile.TemporaryDirectory() as tmp:
        url, drop = database_url(args.db, Path(tmp))
        hubspot = parent.recv()
        settings = parse_config(
            {
                "database": {"url": url},
                "platforms": {
                    "hubspot": hubspot,
                    "google_ads": {
                        "enabled": True,
                        "customer_id": "1234567890",
                        "conversion_action_id": "1",
                        "credentials": {
                            "client_id": "a",
                            "client_secret": "b",
                            "refresh_token": "c",
                        },
                    },
                    "ga4": {"enabled": True, "measurement_id": "G-X", "api_secret": "s"},
                    "meta": {"enabled": True, "pixel_id": "1", "access_token": "t"},
                },
            },
            env={},
        )
        runtime = Runtime.from_settings(settings)
        monitor = Monitor(proc.pid)
        seeded_deals = [0]
        monitor.enter(
            "seed store", lambda: f"{seeded_deals[0]:,}/{n:,} deals' persons/visitors/touchpoints"
        )
        t0 = time.perf_counter()
        seed_store(runtime, n, seeded_deals)
        if runtime.engine.dialect.name == "postgresql":
            # A live store has planner statistics (autovacuum analyzes tables as they grow);
            # tables filled a second ago have none, and PostgreSQL then believes they hold a
            # few rows and reads the whole touchpoints time index for every page. Only the
            # seeded tables: "analyzed and empty" would make it scan the growing deals table
            # for every foreign-key check instead.
            with runtime.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE persons, visitors, touchpoints, click_ids")
        seeded = time.perf_counter() - t0
        rss_seeding = rss_mb()
        monitor.enter("wait for the sandbox's seeding")
        if parent.recv() != "seeded":
            raise SystemExit("the sandbox did not seed")
        fake = FakeClock()
        sandbox = Sandbox(parent)
        if args.live_only:
            live_only(runtime, settings, sandbox, n, seeded, rss_seeding, monitor, args.profile)
            parent.send("stop")
            parent.recv()
            proc.join(timeout=30)
            runtime.close()
            if drop:
                drop()
            return
        monitor.enter("recorded pull, runs over it, pull comparison, live run")
        before = sandbox.served()
        recording, pulled, pulled_cpu, made = record_pull(settings, runtime, fake)
        served = sandbox.served() - before
        service = RunService(
            runtime,
            steps=[SyncStep(source_factory=lambda s, p: recording, now=lambda: NOW)],
        )
        times: list[tuple[float, float]] = []
        for attempt in range(args.repeat):
            if attempt:
                forget_sync(runtime)
            gc.collect()
            rss_before = rss_mb_now()
            reset_peak_rss()
            start, cpu = time.perf_counter(), time.process_time()
            _run_id, status = service.run_now("bench")
            times.append((time.perf_counter() - start, time.process_time() - cpu))
            if not attempt:
                rss_peak = rss_mb()
        own = statistics.median(t for t, _ in times)
        own_cpu = statistics.median(c for _, c in times)
        # Then, with the sandbox still up: the pull against its reference, and one live run.
        pulls = compare_pulls(settings, runtime, sandbox, args.pull_repeat)
        forget_sync(runtime)
        before = sandbox.served()
        live_wall, live_cpu, live_made, live_run = live_sync(runtime, settings)
        live_served = sandbox.served() - before
        parent.send("stop")
        parent.recv()
        proc.join(timeout=30)
        monitor.stop()
        from connector.runs import get_run

        run = get_run(runtime, _run_id)
        counts = run.counts if run else {}
        print(f"database: {runtime.engine.dialect.name}   deals: {n}   status: {status}")
        print(f"store seeded in {seeded:.1f}s")
        print(
            f"pull (HubSpot SDK + sandbox), recorded for the runs below: {pulled:.2f}s = "
            f"{n / pulled:,.0f} deals/s, {pulled_cpu:.2f}s CPU in this process"
        )
        print_pulls(n, pulls)
        print(
            f"match+plan+write of the pulled pages (own overhead), median of {len(times)} runs: "
            f"{own:.2f}s = {n / own:,.0f} deals/s; in CPU time {own_cpu:.2f}s = "
            f"{n / own_cpu:,.0f} deals/s (the database server's own CPU is not in it)"
        )
        print("  each run, wall/CPU seconds: " + ", ".join(f"{t:.2f}/{c:.2f}" for t, c in times))
        print(
            f"pull+match+plan, one after the other: {pulled + own:.1f}s = "
            f"{n / (pulled + own):,.0f} deals/s end to end (a live sync overlaps each page's "
            "writes with the next page's request)"
        )
        live = get_run(runtime, live_run)
        live_counts = live.counts if live else {}
        print(
            f"whole sync, live (sync step with the real HubSpot source + lifecycle step, "
            f"whole process CPU): {live_wall:.2f}s = {n / live_wall:,.0f} deals/s wall; "
            f"{live_cpu:.2f}s CPU = {n / live_cpu:,.0f} deals per CPU-second "
            f"(planned {live_counts.get('conversions_planned')} conversions, "
            f"{live_counts.get('contacts_pulled')} contacts pulled for lifecycle)"
        )
        print(
            f"planned: {counts.get('conversions_planned')} conversions, "
            f"deals_won {counts.get('deals_won')}, skipped {counts.get('deals_skipped')}"
        )
        least = minimum_requests(n)
        print_requests("pull", made, served, least)
        print_requests("whole sync, live", live_made, live_served, live_minimum(n, least))
        # Peak RSS over what the process held before the run (the pulled pages, freed memory
        # the allocator keeps): zero means the sync fit in memory the process already had.
        print(
            f"memory the sync added: {max(rss_peak - rss_before, 0):.0f} MB at its peak "
            f"(RSS {rss_before:.0f} MB before it, with the pulled pages held; "
            f"peak while seeding: {rss_seeding:.0f} MB)"
        )
        runtime.close()
        if drop:
            drop()


def live_only(
    runtime: Runtime,
    settings: Any,
    sandbox: Sandbox,
    n: int,
    seeded: float,
    rss_seeding: float,
    monitor: Monitor,
    profile_to: str | None = None,
) -> None:
    """One whole live sync from an empty sync state: CPU per deal, requests, memory it adds.

    The memory is the peak RSS during the run over the RSS just before it (this process: the
    sandbox is another), the figure that must stay flat as the number of deals grows.
    """
    from connector.runs import get_run

    sandbox_before = sandbox.served()
    say(f"store seeded in {seeded:.1f}s, closedloop's peak RSS while seeding {rss_seeding:.0f} MB")
    gc.collect()
    rss_before = rss_mb_now()
    sources: list[HubSpotSource] = []
    contacts = sum(c for _, c in deals_plan(n))
    monitor.enter("live sync", lambda: sync_progress(sources, n, contacts))
    live_wall, live_cpu, live_made, live_run = live_sync(runtime, settings, sources, profile_to)
    rss_peak = rss_mb()
    monitor.enter("reference pull")
    live_served = sandbox.served() - sandbox_before
    live = get_run(runtime, live_run)
    counts = live.counts if live else {}
    # The same run's reference for the machine's speed now: the bare SDK pulling the first
    # deals and their contacts (no matching, planning or writing at all).
    hubspot = settings.platforms.hubspot
    profile = runtime.profile
    gc.collect()
    cpu = time.process_time()
    bare_deals, _people = bare_pull(
        hubspot.base_url,
        hubspot.access_token.get_secret_value(),
        profile.deal.modified,
        profile.deal_properties(),
        profile.contact_properties(),
        stop_after=min(n, REFERENCE_DEALS),
    )
    bare_cpu = time.process_time() - cpu
    monitor.stop()
    print(f"database: {runtime.engine.dialect.name}   deals: {n}   status: {live and live.status}")
    print(f"store seeded in {seeded:.1f}s (peak RSS while seeding {rss_seeding:.0f} MB)")
    print(
        f"whole sync, live (sync step with the real HubSpot source + lifecycle step, "
        f"whole process CPU): {live_wall:.2f}s = {n / live_wall:,.0f} deals/s wall; "
        f"{live_cpu:.2f}s CPU = {n / live_cpu:,.0f} deals per CPU-second (target >= 2,500; "
        f"planned {counts.get('conversions_planned')} conversions, "
        f"{counts.get('contacts_pulled')} contacts pulled for lifecycle)"
    )
    print(
        f"  same-run reference: the bare SDK's pull alone of the first {bare_deals:,} deals "
        f"(bench/bare_hubspot.py): {bare_deals / bare_cpu:,.0f} deals per CPU-second "
        f"({bare_cpu:.2f}s); the whole sync / that pull: {live_cpu / n * bare_deals / bare_cpu:.2f}"
        "x the CPU per deal (below 1: the whole sync costs less than reading the deals with "
        "the bare SDK)"
    )
    steps = ", ".join(f"{k} {v:.2f}s" for k, v in LAST_BREAKDOWN.items() if k != "gc")
    print(
        f"  CPU by step: {steps}; the garbage collector ran {LAST_BREAKDOWN.get('gc', 0):.2f}s "
        "of the run (wall)"
    )
    print_requests("whole sync, live", live_made, live_served, live_minimum(n, minimum_requests(n)))
    print(
        f"memory the live sync added: {max(rss_peak - rss_before, 0):.0f} MB at its peak "
        f"(RSS {rss_before:.0f} MB before it, peak {rss_peak:.0f} MB; flat in n means the "
        "same figure at 100k and 1M deals)"
    )


def sync_progress(sources: list[HubSpotSource], n: int, contacts: int) -> str:
    """Requests made so far by the live run's sources, and the deals and contacts they read."""
    made: Counter[str] = Counter()
    for one in list(sources):
        made.update(dict(one.client.requests_by_endpoint))
    return (
        f"deal pages {made['deal_search']:,} (~{min(made['deal_search'] * PAGE, n):,}/{n:,} "
        f"deals), contact batch reads {made['contact_batch_read']:,}, lifecycle contact pages "
        f"{made['contact_search']:,} (~{min(made['contact_search'] * PAGE, contacts):,}/"
        f"{contacts:,} contacts)"
    )


def live_minimum(n: int, pull: dict[str, int]) -> dict[str, int]:
    """The pull's minimum plus the lifecycle step's: one contact search per 200 contacts.

    Every seeded contact is new since the (empty) lifecycle cursor, so each is read once.
    """
    contacts = sum(c for _, c in deals_plan(n))
    return {**pull, "contact_search": max(1, math.ceil(contacts / PAGE))}


def print_pulls(n: int, runs: dict[str, list[tuple[float, float, int]]]) -> None:
    """Both pulls' medians and the ratio (pull phase only, wall; CPU of this process)."""
    medians = {
        name: (statistics.median(w for w, _, _ in r), statistics.median(c for _, c, _ in r))
        for name, r in runs.items()
    }
    ours, bare = medians["closedloop"], medians["bare SDK"]
    print(
        f"pull phase, median of {len(runs['closedloop'])} alternating runs against the same "
        "sandbox (wall; CPU of this process):"
    )
    for name, (wall, cpu) in medians.items():
        requests = runs[name][0][2]
        print(
            f"  {name:>10}: {n / wall:,.0f} deals/s ({wall:.2f}s), {n / cpu:,.0f} deals per "
            f"CPU-second ({cpu:.2f}s), {requests} requests"
        )
    print(
        f"  closedloop / bare SDK: {bare[0] / ours[0]:.2f}x in wall rate, "
        f"{bare[1] / ours[1]:.2f}x in CPU rate (target >= 0.8)"
    )


def print_requests(what: str, made: dict[str, int], served: int, least: dict[str, int]) -> None:
    """Requests per platform and endpoint, made / minimum (only HubSpot is called here)."""
    total, low = sum(made.values()), sum(least.values())
    verdict = "at minimum" if total == low and served == total else "ABOVE MINIMUM"
    print(
        f"requests ({what}), hubspot: {total} made / {low} minimum, sandbox served {served}: "
        f"{verdict} (pages of {PAGE}, batches of {BATCH}, associations of {ASSOC})"
    )
    names = list(least) + [name for name in made if name not in least]
    print(
        "  by endpoint, made/minimum: "
        + ", ".join(f"{name} {made.get(name, 0)}/{least.get(name, 0)}" for name in names)
    )


if __name__ == "__main__":
    main()
