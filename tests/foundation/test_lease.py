"""The sync lease: one holder at a time across real processes, reclaimable after a crash."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from connector.storage import lease
from connector.storage.models import utcnow


def test_lease_excludes_renews_and_expires(runtime):
    """A live lease excludes everyone (us too); ours renews; expired ones are taken over."""
    engine, now = runtime.engine, utcnow()
    assert lease.acquire(engine, "sync", "a", 60, now=now)
    assert not lease.acquire(engine, "sync", "b", 60, now=now + timedelta(seconds=30))
    assert not lease.acquire(engine, "sync", "a", 60, now=now + timedelta(seconds=30))
    assert lease.renew(engine, "sync", "a", 60, now=now + timedelta(seconds=50))
    assert not lease.acquire(engine, "sync", "b", 60, now=now + timedelta(seconds=100))
    assert lease.acquire(engine, "sync", "b", 60, now=now + timedelta(seconds=111))
    assert not lease.renew(engine, "sync", "a", 60, now=now + timedelta(seconds=112))
    assert lease.current(engine, "sync", now=now + timedelta(seconds=112)).holder == "b"
    lease.release(engine, "sync", "a")  # releasing someone else's lease does nothing
    assert lease.current(engine, "sync", now=now + timedelta(seconds=112)).holder == "b"


WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from connector.storage import lease
    from connector.storage.db import make_engine

    url, counter, holder, rounds = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    engine = make_engine(url)
    done = 0
    while done < rounds:
        if not lease.acquire(engine, "sync", holder, 30):
            time.sleep(0.001)
            continue
        # Unprotected read-modify-write: loses updates unless the lease really excludes.
        value = int(counter.read_text())
        time.sleep(0.002)
        counter.write_text(str(value + 1))
        lease.release(engine, "sync", holder)
        done += 1
    """
)


def test_two_processes_never_hold_the_lease_at_once(runtime, db_url: str, tmp_path: Path):
    """Two real processes contending for the lease never overlap: no lost counter updates."""
    counter = tmp_path / "counter"
    counter.write_text("0")
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    rounds = 25
    procs = [
        subprocess.Popen([sys.executable, str(script), db_url, str(counter), f"p{i}", str(rounds)])
        for i in range(2)
    ]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    assert int(counter.read_text()) == 2 * rounds


HOLDER = textwrap.dedent(
    """
    import sys, time
    from connector.storage import lease
    from connector.storage.db import make_engine

    engine = make_engine(sys.argv[1])
    assert lease.acquire(engine, "sync", "crasher", 60)
    print("held", flush=True)
    time.sleep(600)
    """
)


def test_lease_of_a_killed_process_is_reclaimable(runtime, db_url: str, tmp_path: Path):
    """SIGKILL of the holder leaves its lease until expiry, then another process takes it."""
    script = tmp_path / "holder.py"
    script.write_text(HOLDER)
    proc = subprocess.Popen(
        [sys.executable, str(script), db_url], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "held"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    now = utcnow()
    assert not lease.acquire(runtime.engine, "sync", "survivor", 60, now=now)
    assert lease.acquire(runtime.engine, "sync", "survivor", 60, now=now + timedelta(seconds=61))


LOCAL_HOLDER = textwrap.dedent(
    """
    import sys, time
    from connector.runtime import process_identity
    from connector.storage import lease
    from connector.storage.db import make_engine

    engine = make_engine(sys.argv[1])
    holder = process_identity()  # what every closedloop process holds leases as
    assert lease.acquire(engine, "sync", holder, 300)
    print(holder, flush=True)
    time.sleep(600)
    """
)


def test_lease_of_a_dead_process_of_this_host_is_taken_over_at_once(
    runtime, db_url: str, tmp_path: Path
):
    """After ``kill -9`` of a local holder the lease is free at once; while it lives, it is not."""
    script = tmp_path / "holder.py"
    script.write_text(LOCAL_HOLDER)
    proc = subprocess.Popen(
        [sys.executable, str(script), db_url], stdout=subprocess.PIPE, text=True
    )
    try:
        holder = proc.stdout.readline().strip()
        assert holder.split(":")[1] == str(proc.pid)
        assert not lease.acquire(runtime.engine, "sync", runtime.holder, 60)  # alive: refused
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
    survivor = runtime.holder
    assert lease.acquire(runtime.engine, "sync", survivor, 60)  # dead: taken, no expiry wait
    assert lease.current(runtime.engine, "sync").holder == survivor


@pytest.mark.parametrize("where", ["other host", "other scope", "not ours"])
def test_holders_that_cannot_be_checked_here_keep_the_lease(runtime, where: str):
    """A holder on another host (or PID namespace, or unnamed) is only reclaimed by expiry."""
    host, _pid, nonce, scope = lease.holder_name().split(":")
    dead_pid = "2147483646"  # beyond any pid_max: no such process
    holder = {
        "other host": f"elsewhere-{host}:{dead_pid}:{nonce}:{scope}",
        "other scope": f"{host}:{dead_pid}:{nonce}:00000000",
        "not ours": f"{host}:{dead_pid}",
    }[where]
    assert lease.acquire(runtime.engine, "sync", holder, 60)
    assert not lease.acquire(runtime.engine, "sync", lease.holder_name(), 60)
    assert lease.current(runtime.engine, "sync").holder == holder


def test_run_heartbeat_renews_once_a_tenth_of_the_lease_has_passed(runtime):
    """Per-page heartbeats renew the lease only now and then, and still notice its loss."""
    from connector.runs import SYNC_LEASE, LeaseLost, RunContext

    ttl = runtime.settings.schedule.lease_seconds
    assert lease.acquire(runtime.engine, SYNC_LEASE, runtime.holder, ttl)
    t = [0.0]
    ctx = RunContext(runtime=runtime, run_id=1, trigger="test", clock=lambda: t[0])
    ctx.heartbeat()  # the first call renews
    first = lease.current(runtime.engine, SYNC_LEASE).expires_at
    lease.release(runtime.engine, SYNC_LEASE, runtime.holder)  # lost behind our back
    t[0] = ttl / 10 - 1
    ctx.heartbeat()  # too soon to renew: no write, no error
    assert lease.current(runtime.engine, SYNC_LEASE) is None
    t[0] = ttl / 10
    with pytest.raises(LeaseLost):
        ctx.heartbeat()
    assert first is not None
