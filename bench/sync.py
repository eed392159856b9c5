"""Benchmark: pull + match + plan of N closed-won deals from the HubSpot sandbox.

The sandbox runs in a child process (so its in-memory CRM does not count towards our memory)
and is seeded with N closed-won deals of 1-3 contacts each; the store gets a person, a visitor
and two touchpoints (one with a gclid) per contact. HubSpot's rate limits are lifted in the
sandbox and the client's throttle runs on a fake clock, so the figures show our own overhead.
Own overhead is given in wall time (the database server's work included) and in this process's
CPU time, which other load on the machine inflates far less. On PostgreSQL the seeded tables
are analyzed first, as autovacuum would have done on a live store.

    python bench/sync.py --deals 10000 [--db postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import math
import multiprocessing as mp
import random
import resource
import signal
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text

from connector.config import parse_config
from connector.identity import email_key
from connector.runs import RunService
from connector.runtime import Runtime
from connector.storage.models import ClickId, Person, Touchpoint, Visitor
from connector.sync import SyncStep

# The HubSpot SDK is imported here, outside the timed run: a service imports it once when it
# starts (about 0.3 s here), not on every sync.
from platforms.hubspot.source import HubSpotSource

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
PAGE, BATCH, ASSOC = 200, 100, 1000


def deals_plan(n: int, seed: int = 7) -> Iterator[tuple[int, int]]:
    """(deal index, number of contacts), the same in both processes."""
    rng = random.Random(seed)
    for i in range(n):
        yield i, rng.randint(1, 3)


def email(deal: int, k: int) -> str:
    return f"buyer{deal}.{k}@example.com"


def serve_sandbox(n: int, conn: Any) -> None:
    """Child process: seed and serve the sandbox until told to stop."""
    from platforms.hubspot.sandbox import HubSpotSandbox

    tick = iter(range(10**9))
    sandbox = HubSpotSandbox(
        requests_per_10s=10**9,
        search_per_second=10**9,
        now=lambda: NOW - timedelta(days=2) + timedelta(milliseconds=next(tick)),
    )
    close = (NOW - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    for i, contacts in deals_plan(n):
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
    sandbox.start()
    conn.send(sandbox.platform_config())
    conn.recv()
    conn.send(sandbox.requests)
    sandbox.stop()


def seed_store(runtime: Runtime, n: int) -> None:
    """A person, a visitor and two touchpoints (one with a gclid) per contact."""
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


class TimedSource:
    """The real HubSpotSource, timing how long we wait for it."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self.seconds = 0.0
        self.cpu = 0.0

    @property
    def requests_made(self) -> int:
        """The wrapped source's request count."""
        return self.source.requests_made

    def pipelines(self) -> Any:
        """Timed pass-through."""
        start, cpu = time.perf_counter(), time.process_time()
        try:
            return self.source.pipelines()
        finally:
            self.seconds += time.perf_counter() - start
            self.cpu += time.process_time() - cpu

    def deals_by_id(self, ids: list[str]) -> Any:
        """Pass-through (unused by the benchmark)."""
        return self.source.deals_by_id(ids)

    def deals_changed_since(self, since: Any, *, progress: Any = None) -> Iterator[Any]:
        """Timed pass-through of each page."""
        pages = self.source.deals_changed_since(since, progress=progress)
        while True:
            start, cpu = time.perf_counter(), time.process_time()
            try:
                page = next(pages)
            except StopIteration:
                return
            finally:
                self.seconds += time.perf_counter() - start
                self.cpu += time.process_time() - cpu
            yield page


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
        t0 = time.perf_counter()
        seed_store(runtime, n)
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
        reset_peak_rss()
        fake = FakeClock()
        holder: dict[str, TimedSource] = {}

        def factory(s: Any, profile: Any) -> Any:
            holder["source"] = TimedSource(
                HubSpotSource(s.platforms.hubspot, profile, clock=fake.clock, sleep=fake.sleep)
            )
            return holder["source"]

        service = RunService(runtime, steps=[SyncStep(source_factory=factory, now=lambda: NOW)])
        start, cpu = time.perf_counter(), time.process_time()
        _run_id, status = service.run_now("bench")
        total = time.perf_counter() - start
        total_cpu = time.process_time() - cpu
        parent.send("stop")
        served = parent.recv()
        proc.join(timeout=30)
        from connector.runs import get_run

        run = get_run(runtime, _run_id)
        counts = run.counts if run else {}
        source = holder["source"]
        own = total - source.seconds
        own_cpu = total_cpu - source.cpu
        print(f"database: {runtime.engine.dialect.name}   deals: {n}   status: {status}")
        print(f"store seeded in {seeded:.1f}s")
        print(
            f"pull+match+plan: {total:.1f}s total = {n / total:,.0f} deals/s end to end; "
            f"own overhead {own:.1f}s = {n / own:,.0f} deals/s "
            f"(HubSpot SDK + sandbox {source.seconds:.1f}s)"
        )
        # CPU seconds are what a loaded machine (other processes on the cores) cannot inflate.
        print(
            f"own overhead in CPU time: {own_cpu:.1f}s = {n / own_cpu:,.0f} deals/s "
            f"(SDK CPU in this process {source.cpu:.1f}s)"
        )
        print(
            f"planned: {counts.get('conversions_planned')} conversions, "
            f"deals_won {counts.get('deals_won')}, skipped {counts.get('deals_skipped')}"
        )
        least = minimum_requests(n)
        made = source.source.client.requests_by_endpoint
        print(
            f"HubSpot requests: {source.requests_made} made (sandbox served {served}); "
            f"minimum for pages of {PAGE}, batches of {BATCH}: {sum(least.values())}"
        )
        print(
            "  by endpoint, made/minimum: "
            + ", ".join(f"{name} {made.get(name, 0)}/{low}" for name, low in least.items())
        )
        print(
            f"peak RSS during the sync: {rss_mb():.0f} MB "
            f"(peak while seeding: {rss_seeding:.0f} MB)"
        )
        runtime.close()
        if drop:
            drop()


if __name__ == "__main__":
    main()
