"""Delivery: N planned conversions through every registered destination's sandbox.

For each destination in ``platforms.DESTINATIONS`` (no platform is named here) it starts the
registered sandbox in this process, plans N won deals for it the way the contract kit does
(``tests/contract/kit.py``: the real ``plan_conversions`` and ``insert_conversions``, journeys
carrying every kind of evidence, each deal with its own click and GA client), then delivers
them in a child process (so its peak RSS is the worker's alone, not the sandbox's, which keeps
every accepted event), with zero and with 50 ms latency per request. Prints conversions/s,
the API requests the sandbox received (its ``requests``: token refreshes not counted) beside
the minimum for the platform's batch size (the sum over request groups of
⌈items / ``max_batch``⌉; a platform that groups requests by ``group_key``, GA4 by client, needs
one per group), plus the look-ups a batch needs to learn its outcome
(``Destination.follow_up_requests``: Data Manager's ``RetrieveRequestStatus``, one per ingest:
an ingest is processed asynchronously and only the status look-up, which takes a single
``request_id``, reports which events failed and why; see
https://developers.google.com/data-manager/api/devguides/diagnostics), what the platform
kept, and the worker's peak RSS. The outbox makes that look-up when the platform's verdict
is due (``connector.outbox.confirm``: 30 minutes after the ingest at Google, once per
``request_id`` however many rows share it, more only while Google still answers PROCESSING),
never right after the ingest; the sandbox processes at once and its config asks at once
(``status_check_minutes: 0``), so the one pass here makes the sends and the look-ups.

    .venv/bin/python bench/deliver.py                      # 10,000 per destination, 0 and 50 ms
    .venv/bin/python bench/deliver.py --n 100000 --platform ga4 --latency 0.05
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import connector.config  # noqa: E402, F401  (first: the platforms' settings import it)
import platforms  # noqa: E402

PLAN_CHUNK = 5000


def plan(world: Any, n: int) -> None:
    """Plan and store n sendable conversions in chunks (the clicks made known to the sandbox)."""
    done = 0
    while done < n:
        count = min(PLAN_CHUNK, n - done)
        keys = world.store(world.plan(world.journeys(count)))
        if len(keys) != count:
            raise SystemExit(f"{world.name}: planned {len(keys)} of {count} conversions")
        done += count


def minimum_requests(world: Any) -> tuple[int, int]:
    """(sends, look-ups): the fewest requests for the destination's own grouping.

    Sends are Σ over request groups of ⌈items / max_batch⌉; look-ups, those each such batch
    needs to learn its outcome (``Destination.follow_up_requests``).
    """
    from sqlalchemy import select

    from connector.outbox.rows import planned_from_row
    from connector.storage.models import Conversion, utcnow
    from platforms.base import Prepared

    destination = world.cls(getattr(world.settings.platforms, world.name))
    groups: Counter[str] = Counter()
    with world.runtime.sessions() as session:
        for row in session.scalars(select(Conversion)):
            prepared = destination.prepare(planned_from_row(row), utcnow())
            if isinstance(prepared, Prepared):
                groups[destination.group_key(prepared)] += 1
    sends = {key: math.ceil(size / world.cls.max_batch) for key, size in groups.items()}
    follow_ups = sum(n * destination.follow_up_requests(key) for key, n in sends.items())
    return sum(sends.values()), follow_ups


def worker(tree: dict[str, Any], platform: str) -> dict[str, Any]:
    """Child process: deliver the planned rows, report time and peak RSS."""
    from connector.config import parse_config
    from connector.outbox import deliver_due
    from connector.runtime import Runtime

    runtime = Runtime.from_settings(parse_config(tree, env={}))
    started = time.perf_counter()
    summary = deliver_due(runtime, only=[platform])
    seconds = time.perf_counter() - started
    runtime.close()
    return {
        "seconds": seconds,
        "peak_rss_mb": peak_rss_mb(),
        "summary": summary.platforms[platform].as_dict(),
    }


def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM).

    Not ``getrusage``: Linux carries the parent's high-water mark across fork+exec into
    ``ru_maxrss``, and the parent holds the sandbox with every accepted event.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_case(name: str, n: int, latency: float, concurrency: int | None) -> dict[str, Any]:
    """Start the sandbox here, plan here, deliver in a child, count what the sandbox saw."""
    from connector.config import parse_config
    from connector.runtime import Runtime
    from platforms.sandbox_kit import FaultPlan
    from tests.contract.kit import World

    sandbox = platforms.load(platforms.SANDBOXES[name])(
        faults=FaultPlan(latency_seconds=latency)
    ).start()
    try:
        with tempfile.TemporaryDirectory(prefix="closedloop-bench-") as folder:
            config = sandbox.platform_config()
            fields = platforms.load(platforms.SETTINGS[name]).model_fields
            if concurrency and "concurrency" in fields:
                config["concurrency"] = concurrency
            tree = {
                "database": {"url": f"sqlite:///{folder}/bench.db"},
                "platforms": {name: config},
                "logging": {"level": "WARNING"},
            }
            settings = parse_config(tree, env={})
            runtime = Runtime.from_settings(settings)
            world = World(
                name, platforms.load(platforms.DESTINATIONS[name]), sandbox, settings, runtime
            )
            plan(world, n)
            sends, follow_ups = minimum_requests(world)
            before = sandbox.requests
            child = subprocess.run(
                [sys.executable, __file__, "--worker", json.dumps(tree), name],
                capture_output=True,
                text=True,
            )
            if child.returncode:
                raise SystemExit(f"{name}: delivery worker failed:\n{child.stderr[-3000:]}")
            result = json.loads(child.stdout.strip().splitlines()[-1])
            result.update(
                platform=name,
                n=n,
                latency_ms=latency * 1000,
                requests=sandbox.requests - before,
                minimum=sends + follow_ups,
                minimum_sends=sends,
                minimum_follow_ups=follow_ups,
                kept=len(set(world.kept())),
            )
            runtime.close()
        return result
    finally:
        sandbox.stop()


def breakdown(result: dict[str, Any]) -> str:
    """The minimum as sends + outcome look-ups, where the platform needs look-ups."""
    if not result["minimum_follow_ups"]:
        return "sends"
    return f"{result['minimum_sends']}+{result['minimum_follow_ups']} look-ups"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, action="append", help="conversions per platform")
    parser.add_argument("--platform", action="append", choices=list(platforms.DESTINATIONS))
    parser.add_argument("--latency", type=float, action="append", help="seconds per request")
    parser.add_argument(
        "--concurrency",
        type=int,
        help="platforms.<name>.concurrency where a destination has it (default: the config's)",
    )
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        tree, platform = args.worker
        print(json.dumps(worker(json.loads(tree), platform)))
        return
    header = (
        f"{'platform':<14} {'n':>7} {'latency':>8} {'conv/s':>9} {'seconds':>8} "
        f"{'requests':>8} {'minimum':>8} {'of which':>15} {'req/s':>7} {'kept':>7} {'peak RSS':>9}"
    )
    print(header)
    for latency in args.latency or [0.0, 0.05]:
        for platform in args.platform or platforms.DESTINATIONS:
            for n in args.n or [10_000]:
                r = run_case(platform, n, latency, args.concurrency)
                print(
                    f"{platform:<14} {n:>7} {r['latency_ms']:>6.0f}ms "
                    f"{n / r['seconds']:>9.0f} {r['seconds']:>8.1f} {r['requests']:>8} "
                    f"{r['minimum']:>8} {breakdown(r):>15} "
                    f"{r['requests'] / r['seconds']:>7.0f} {r['kept']:>7} "
                    f"{r['peak_rss_mb']:>7.0f}MB",
                    flush=True,
                )
                if r["summary"]["error"] or r["summary"]["accepted"] != n:
                    print(f"  ! {json.dumps(r['summary'])}", flush=True)


if __name__ == "__main__":
    main()
