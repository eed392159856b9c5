"""A delivery worker killed with SIGKILL mid-batch loses and doubles nothing, per destination."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta

from connector.storage.models import utcnow
from tests.contract.conftest import contract_config
from tests.contract.kit import World

#: Small batches, so a kill lands between and inside many sends.
SMALL_BATCH = 5
ROWS = 200
KILLS = 3
#: Seconds each API call takes at the sandbox, so delivery outlasts the first kill.
LATENCY = 0.02

WORKER = """
import json, sys
import platforms
from connector.config import parse_config
from connector.outbox import deliver_due
from connector.runtime import Runtime
name, tree, batch = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
runtime = Runtime.from_settings(parse_config(tree, env={}), upgrade=False)
registered = platforms.load(platforms.DESTINATIONS[name])
small = type(registered.__name__, (registered,), {"max_batch": batch})
adapter = small(getattr(runtime.settings.platforms, name), timeout=5)
adapter.setup()
print("ready", flush=True)
while True:
    deliver_due(runtime, adapters={name: adapter})
"""


def test_sigkill_mid_delivery_then_restart_keeps_every_key_exactly_once(world: World, db_url):
    """Kill -9 the worker three times mid-delivery, restart: every row accepted, kept once."""
    keys = world.planned(ROWS)
    world.sandbox.faults.latency_seconds = LATENCY
    tree = {
        "database": {"url": db_url},
        "platforms": {world.name: contract_config(world.sandbox)},
        "delivery": {"claim_seconds": 30, "request_timeout_seconds": 5},
    }
    rng = random.Random(world.name)
    pending_at_kill = []
    for _ in range(KILLS):
        with subprocess.Popen(
            [sys.executable, "-c", WORKER, world.name, json.dumps(tree), str(SMALL_BATCH)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        ) as proc:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0.05, 0.3))  # a random point in delivery, not a timing
            proc.kill()
            proc.wait(10)
        pending_at_kill.append(sum(r.status == "pending" for r in world.rows().values()))
    assert pending_at_kill[0] > 0, "the first kill came after delivery had finished"
    later = utcnow() + timedelta(minutes=10)  # the dead workers' claims have expired
    for step in range(4):
        world.deliver(now=later + timedelta(hours=step))
    rows = world.rows()
    assert {r.status for r in rows.values()} == {"accepted"}
    assert all(r.claimed_by is None for r in rows.values())
    assert Counter(world.kept()) == Counter(keys)
