"""A delivery worker killed with SIGKILL at random points loses and doubles nothing."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from connector.outbox import deliver_due
from connector.storage.models import utcnow
from platforms.sandbox_kit import FaultPlan

WORKER = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("tiny_platform", {path!r})
tiny = importlib.util.module_from_spec(spec)
sys.modules["tiny_platform"] = tiny
spec.loader.exec_module(tiny)
from connector.config import parse_config
from connector.outbox import deliver_due
from connector.runtime import Runtime
settings = parse_config(
    {{"database": {{"url": {db_url!r}}}, "delivery": {{"claim_seconds": 30}}}}, env={{}}
)
runtime = Runtime.from_settings(settings, upgrade=False)
adapter = tiny.TinyUngroupedDestination(
    tiny.TinySettings(url={url!r}, token={token!r}, concurrency=2), timeout=5
)
adapter.setup()
print("ready", flush=True)
while True:
    deliver_due(runtime, adapters={{"tiny": adapter}})
"""

KILLS = 4


def test_sigkill_at_random_points_then_restart_loses_and_doubles_nothing(
    runtime, db_url, add_rows, rows, make_destination, tiny_platform
):
    """Kill -9 the worker mid-delivery four times, restart: every row accepted exactly once."""
    keys = add_rows(300, clients=1)
    rng = random.Random(5)
    plan = FaultPlan(latency_seconds=0.02)
    with tiny_platform.TinyEmulator(plan) as server:
        script = WORKER.format(
            path=str(Path(tiny_platform.__file__)),
            db_url=db_url,
            url=server.url,
            token=server.token,
        )
        pending_at_kill = []
        for _ in range(KILLS):
            with subprocess.Popen(
                [sys.executable, "-c", script],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            ) as proc:
                assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
                time.sleep(rng.uniform(0.05, 0.35))  # a random point in delivery, not a timing
                proc.kill()
                proc.wait(10)
            pending_at_kill.append(sum(r.status == "pending" for r in rows().values()))
        assert pending_at_kill[0] > 0  # the first kill really interrupted the work
        # Restart after the dead worker's claims expired.
        later = utcnow() + timedelta(hours=1)
        adapters = {"tiny": make_destination(server)}
        for step in range(5):
            deliver_due(runtime, now=later + timedelta(hours=7 * step), adapters=adapters)
        stored = rows()
        assert {r.status for r in stored.values()} == {"accepted"}
        assert all(r.claimed_by is None for r in stored.values())
        accepted = [e["key"] for e in server.accepted]
        assert sorted(accepted) == sorted(keys) and len(accepted) == len(set(accepted))
        # Only rows in flight at a kill were sent twice (2 chunks of 3 per batch x 2 parallel).
        resent = sum(count - 1 for count in server.received.values())
        assert resent <= KILLS * 12
