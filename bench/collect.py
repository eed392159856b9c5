"""Benchmark POST /collect against the production server (gunicorn via `closedloop serve`).

Starts ``closedloop serve --no-scheduler`` with a temporary config on SQLite and/or PostgreSQL,
drives /collect from separate client processes (threads with keep-alive connections), then
counts the touchpoints stored against the hits the server acknowledged.

    .venv/bin/python bench/collect.py --db sqlite --db postgresql --seconds 10

Target on a 2-core box: >= 2,000 hits/s, p99 < 50 ms, zero lost.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import yaml
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def hit_body(client: int, thread: int, n: int) -> bytes:
    """A realistic page view; one in five lands from an ad with a unique gclid."""
    visitor = f"bench-{client}-{thread}-{n % 50:04d}"
    query = f"?utm_source=google&utm_medium=cpc&gclid=g-{client}-{thread}-{n}" if n % 5 == 0 else ""
    body = {
        "visitor_id": visitor,
        "url": f"https://shop.example/page/{n % 40}{query}",
        "referrer": "https://www.google.com/" if n % 3 == 0 else "https://shop.example/",
        "title": "Benchmark page",
        "ts": int(time.time() * 1000),
        "ga_client_id": "123456789.1700000000",
        "consent": {"ad_user_data": True, "ad_personalization": True},
    }
    return json.dumps(body).encode()


def client_process(
    client: int,
    port: int,
    threads: int,
    seconds: float,
    per_connection: int,
    out: multiprocessing.Queue,
) -> None:
    """Threads posting hits over keep-alive connections until the time is up."""
    import threading

    results: list[tuple[int, int, list[float]]] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def run(thread: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        sent = ok = 0
        latencies: list[float] = []
        headers = {"Content-Type": "text/plain;charset=UTF-8"}
        while time.monotonic() < deadline:
            body = hit_body(client, thread, sent)
            start = time.perf_counter()
            try:
                conn.request("POST", "/collect", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                status = 0
            latencies.append(time.perf_counter() - start)
            sent += 1
            ok += status == 204
            if sent % per_connection == 0:
                # Browsers do not hold one connection forever; reconnecting also lets every
                # gunicorn worker get its share (a worker keeps the connections it accepted).
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.close()
        with lock:
            results.append((sent, ok, latencies))

    cpu_start = time.process_time()
    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    sent = sum(r[0] for r in results)
    ok = sum(r[1] for r in results)
    latencies = [lat for r in results for lat in r[2]]
    out.put((sent, ok, latencies, time.process_time() - cpu_start))


def database_url(kind: str, workdir: Path, pg_base: str) -> tuple[str, str | None]:
    """A fresh SQLite file or a fresh PostgreSQL schema; (url, schema to drop)."""
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'bench.db'}", None
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    engine = create_engine(pg_base)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    sep = "&" if "?" in pg_base else "?"
    return f"{pg_base}{sep}options={quote(f'-csearch_path={schema}')}", schema


def wait_healthy(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("server did not become healthy")


def cpu_seconds(session_id: int | None = None, command: str | None = None) -> float:
    """CPU time (user + system) of the processes in a session, or with a command name."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            raw = stat.read_text()
        except OSError:
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        if (session_id is not None and int(fields[3]) == session_id) or name == command:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]
    return (sum(fields) - idle) / ticks, sum(fields) / ticks


def stored_touchpoints(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM touchpoints")).scalar_one()
    engine.dispose()
    return int(count)


def run_one(kind: str, args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        url, schema = database_url(kind, workdir, args.pg_url)
        port = free_port()
        config = {
            "database": {"url": url, "pool_size": args.server_threads},
            "server": {
                "host": "127.0.0.1",
                "port": port,
                "workers": args.workers,
                "threads": args.server_threads,
                "rate_limit_per_minute": 100_000_000,
                "max_body_bytes": 65536,
            },
            "schedule": {"enabled": False},
            "logging": {"level": "WARNING"},
        }
        config_path = workdir / "closedloop.yaml"
        config_path.write_text(yaml.safe_dump(config))
        command = [sys.executable, "-m", "connector.cli", "-c", str(config_path)]
        server = subprocess.Popen(
            [*command, "serve", "--no-scheduler"],
            cwd=ROOT,
            start_new_session=True,
        )
        try:
            wait_healthy(port, server)
            queue: multiprocessing.Queue = multiprocessing.Queue()
            clients = [
                multiprocessing.Process(
                    target=client_process,
                    args=(c, port, args.threads, args.seconds, args.per_connection, queue),
                )
                for c in range(args.clients)
            ]
            cpu_before = cpu_seconds(session_id=server.pid), cpu_seconds(command="postgres")
            machine_before = machine_cpu()
            started = time.perf_counter()
            for proc in clients:
                proc.start()
            parts = [queue.get() for _ in clients]
            elapsed = time.perf_counter() - started
            server_cpu = cpu_seconds(session_id=server.pid) - cpu_before[0]
            postgres_cpu = cpu_seconds(command="postgres") - cpu_before[1]
            machine_after = machine_cpu()
            for proc in clients:
                proc.join()
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)
        sent = sum(p[0] for p in parts)
        ok = sum(p[1] for p in parts)
        latencies = sorted(lat for p in parts for lat in p[2])
        client_cpu = sum(p[3] for p in parts)
        busy = machine_after[0] - machine_before[0]
        capacity = (machine_after[1] - machine_before[1]) or 1.0
        stored = stored_touchpoints(url)
        if schema:
            engine = create_engine(args.pg_url)
            with engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            engine.dispose()
    return {
        "database": kind,
        "hits_per_s": round(ok / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
        "sent": sent,
        "acknowledged": ok,
        "stored": stored,
        "lost": ok - stored,
        "server_cpu_ms_per_hit": round(server_cpu * 1000 / max(ok, 1), 3),
        "postgres_cpu_ms_per_hit": round(postgres_cpu * 1000 / max(ok, 1), 3) if schema else 0,
        "client_cpu_ms_per_hit": round(client_cpu * 1000 / max(ok, 1), 3),
        # Where the machine's CPU went while the clients ran (cores = seconds per second).
        "cores": {
            "server": round(server_cpu / elapsed, 2),
            "postgres": round(postgres_cpu / elapsed, 2) if schema else 0.0,
            "client": round(client_cpu / elapsed, 2),
            "other": round(max(0.0, busy - server_cpu - postgres_cpu - client_cpu) / elapsed, 2),
            "idle": round(max(0.0, capacity - busy) / elapsed, 2),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", action="append", choices=["sqlite", "postgresql"])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--threads", type=int, default=8, help="threads per client process")
    parser.add_argument(
        "--per-connection", type=int, default=50, help="requests per keep-alive connection"
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--server-threads", type=int, default=8, help="threads per worker")
    parser.add_argument("--pg-url", default=os.environ.get("CLOSEDLOOP_BENCH_PG", PG_DEFAULT))
    args = parser.parse_args()
    for kind in args.db or ["sqlite", "postgresql"]:
        result = run_one(kind, args)
        print(
            f"{result['database']:>10}: {result['hits_per_s']:>8} hits/s  "
            f"p50 {result['p50_ms']} ms  p99 {result['p99_ms']} ms  "
            f"sent {result['sent']}  acknowledged {result['acknowledged']}  "
            f"stored {result['stored']}  lost {result['lost']}  "
            f"server CPU {result['server_cpu_ms_per_hit']} ms/hit"
            + (f" + postgres {result['postgres_cpu_ms_per_hit']}" if kind == "postgresql" else "")
            + f"  client CPU {result['client_cpu_ms_per_hit']} ms/hit"
        )
        cores = result["cores"]
        print(
            f"{'':>10}  cores used: "
            + "  ".join(f"{name} {value}" for name, value in cores.items())  # type: ignore[union-attr]
        )


if __name__ == "__main__":
    main()
