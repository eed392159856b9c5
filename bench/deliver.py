"""Delivery throughput: N planned conversions per platform through the sandboxes.

Each case runs the delivery in a child process (so its peak RSS is the worker's alone, not the
sandbox's, which keeps every accepted event) against a sandbox in this process, with zero and
with 50 ms latency per request. Prints conversions/s, requests made vs the minimum
(⌈n / batch max⌉; GA4 one per client) and the worker's peak RSS.

    python bench/deliver.py                      # 100,000 per platform, 0 and 50 ms
    python bench/deliver.py --n 10000 --n 100000 --platform ga4 --latency 0.05
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PLATFORMS = ("google_ads", "ga4", "meta")
INSERT_CHUNK = 5000


def identifiers(platform: str, i: int, now: Any) -> dict[str, Any]:
    """Identifiers each platform's adapter can send."""
    if platform == "ga4":
        return {"ga_client_id": f"{100000 + i}.1700000000", "ga_session_id": "1700000000"}
    email = hashlib.sha256(f"buyer{i}@example.com".encode()).hexdigest()
    if platform == "google_ads":
        return {
            "gclid": f"Cj0KCQ-bench-{i:07d}",
            "click_time": (now - timedelta(days=2)).isoformat(),
            "email_sha256": [email],
            "consent_ad_user_data": True,
            "consent_ad_personalization": True,
        }
    return {"email_sha256": [email]}


def plan(runtime: Any, platform: str, n: int) -> None:
    """Insert n pending conversions in chunks (memory stays flat while planning too)."""
    from sqlalchemy import insert

    from connector.storage.models import Conversion, utcnow

    now = utcnow()
    for start in range(0, n, INSERT_CHUNK):
        rows = [
            {
                "deal_id": f"bench-{i}",
                "destination": platform,
                "kind": "conversion",
                "event_name": "purchase",
                "dedup_key": f"cl-bench-{i}-won",
                "value": Decimal("1250.00"),
                "currency": "EUR",
                "event_time": now - timedelta(days=1),
                "identifiers": identifiers(platform, i, now),
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now - timedelta(minutes=1),
                "created_at": now,
                "updated_at": now,
            }
            for i in range(start, min(n, start + INSERT_CHUNK))
        ]
        with runtime.sessions.begin() as session:
            session.execute(insert(Conversion), rows)


def worker(tree: dict[str, Any], platform: str, n: int) -> dict[str, Any]:
    """Child process: plan n rows, deliver them, report time and peak RSS."""
    from connector.config import parse_config
    from connector.outbox import deliver_due
    from connector.runtime import Runtime

    runtime = Runtime.from_settings(parse_config(tree, env={}))
    plan(runtime, platform, n)
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


def sandbox_requests(sandbox: Any, platform: str) -> int:
    """Requests that carried conversions (Google's later status look-ups not counted)."""
    if platform == "google_ads":
        return sandbox.datamanager.calls["IngestEvents"]
    if platform == "ga4":
        return sandbox.collect_requests
    return sandbox.event_requests


def minimum_requests(platform: str, n: int) -> int:
    """⌈n / batch max⌉, or one per client for GA4 (every conversion has its own client)."""
    import platforms

    if platform == "ga4":
        return n
    batch = platforms.load(platforms.DESTINATIONS[platform]).max_batch
    return -(-n // batch)


def run_case(
    platform: str, n: int, latency: float, ga4_concurrency: int | None = None
) -> dict[str, Any]:
    """Start the sandbox here, deliver in a child, count what the sandbox saw."""
    import platforms
    from platforms.sandbox_kit import FaultPlan

    sandbox_cls = platforms.load(platforms.SANDBOXES[platform])
    sandbox = sandbox_cls(faults=FaultPlan(latency_seconds=latency)).start()
    try:
        with tempfile.TemporaryDirectory(prefix="closedloop-bench-") as folder:
            config = sandbox.platform_config()
            if platform == "ga4" and ga4_concurrency:
                config["concurrency"] = ga4_concurrency
            tree = {
                "database": {"url": f"sqlite:///{folder}/bench.db"},
                "platforms": {platform: config},
                "logging": {"level": "WARNING"},
            }
            child = subprocess.run(
                [sys.executable, __file__, "--worker", json.dumps(tree), platform, str(n)],
                capture_output=True,
                text=True,
                check=True,
            )
        result = json.loads(child.stdout.strip().splitlines()[-1])
        keys = (item.get("transaction_id") or item.get("event_id") for item in sandbox.accepted)
        kept = len(set(keys))
        result.update(
            platform=platform,
            n=n,
            latency_ms=latency * 1000,
            requests=sandbox_requests(sandbox, platform),
            minimum=minimum_requests(platform, n),
            kept=kept,
        )
        return result
    finally:
        sandbox.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, action="append", help="conversions per platform")
    parser.add_argument("--platform", action="append", choices=PLATFORMS)
    parser.add_argument("--latency", type=float, action="append", help="seconds per request")
    parser.add_argument(
        "--ga4-concurrency", type=int, help="platforms.ga4.concurrency (default: the config's)"
    )
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        tree, platform, n = args.worker
        print(json.dumps(worker(json.loads(tree), platform, int(n))))
        return
    header = (
        f"{'platform':<11} {'n':>7} {'latency':>8} {'conv/s':>9} {'seconds':>8} "
        f"{'requests':>8} {'minimum':>8} {'req/s':>7} {'kept':>7} {'peak RSS':>9}"
    )
    print(header)
    for latency in args.latency or [0.0, 0.05]:
        for platform in args.platform or PLATFORMS:
            for n in args.n or [100_000]:
                r = run_case(platform, n, latency, args.ga4_concurrency)
                print(
                    f"{platform:<11} {n:>7} {r['latency_ms']:>6.0f}ms "
                    f"{n / r['seconds']:>9.0f} {r['seconds']:>8.1f} {r['requests']:>8} "
                    f"{r['minimum']:>8} {r['requests'] / r['seconds']:>7.0f} {r['kept']:>7} "
                    f"{r['peak_rss_mb']:>7.0f}MB",
                    flush=True,
                )
                if r["summary"]["error"] or r["summary"]["accepted"] != n:
                    print(f"  ! {json.dumps(r['summary'])}", flush=True)


if __name__ == "__main__":
    main()
