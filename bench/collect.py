"""Benchmark POST /collect against the production server (gunicorn via `closedloop serve`).

Two comparisons, each measured in the same run with the same load generator and payload
(separate client processes, threads with keep-alive connections), alternated ``--repeat`` times
and reported as medians:

* ``bare``: closedloop on SQLite against ``bench/bare_collect.py``, a bare Flask + gunicorn +
  SQLite insert endpoint started beside it with the same workers and threads. Prints both rates,
  the ratio (target >= 0.7), p99 (target < 50 ms) and sent = acknowledged = stored.
* ``scale``: one ``closedloop serve`` process against two on one PostgreSQL (each with
  ``--scale-workers`` gunicorn workers; the clients spread over them). Target >= 1.7x.

Rates are acknowledged hits per second of wall time while the clients ran. "server CPU" is the
user + system CPU of every process in the server's session (gunicorn master and workers, and
for closedloop its writer threads), "postgres" that of every process named ``postgres``, and
"client" that of the load generator; "other" is the rest of the machine (other jobs).

    .venv/bin/python bench/collect.py                       # bare and scale, 10 s x 3 each
    .venv/bin/python bench/collect.py --part db --db sqlite --db postgresql   # closedloop alone
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


def stored_rows(url: str, table: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        count = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
    engine.dispose()
    return int(count)


def closedloop_server(url: str, workers: int, workdir: Path, args: argparse.Namespace):
    """``closedloop serve --no-scheduler`` (gunicorn, as production runs it) on a free port."""
    port = free_port()
    config = {
        "database": {"url": url, "pool_size": args.server_threads},
        "server": {
            "host": "127.0.0.1",
            "port": port,
            "workers": workers,
            "threads": args.server_threads,
            "rate_limit_per_minute": 100_000_000,
            "max_body_bytes": 65536,
        },
        "schedule": {"enabled": False},
        "logging": {"level": "WARNING"},
    }
    config_path = workdir / f"closedloop-{port}.yaml"
    config_path.write_text(yaml.safe_dump(config))
    command = [sys.executable, "-m", "connector.cli", "-c", str(config_path)]
    server = subprocess.Popen(
        [*command, "serve", "--no-scheduler"], cwd=ROOT, start_new_session=True
    )
    return server, port


def bare_server(db_file: Path, workers: int, args: argparse.Namespace):
    """The reference: ``bench/bare_collect.py`` under gunicorn with the same workers and threads."""
    port = free_port()
    command = [
        sys.executable, "-m", "gunicorn", "-k", "gthread",
        "-w", str(workers), "--threads", str(args.server_threads),
        "-b", f"127.0.0.1:{port}", "--keep-alive", "5", "--log-level", "warning",
        "--chdir", str(ROOT / "bench"), "bare_collect:app",
    ]  # fmt: skip
    env = {**os.environ, "BARE_COLLECT_DB": str(db_file)}
    server = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    return server, port


def drive(ports: list[int], servers: list[subprocess.Popen], args: argparse.Namespace):
    """Run the load generator against the ports (clients spread over them); CPU accounting."""
    queue: multiprocessing.Queue = multiprocessing.Queue()
    clients = [
        multiprocessing.Process(
            target=client_process,
            args=(c, ports[c % len(ports)], args.threads, args.seconds, args.per_connection, queue),
        )
        for c in range(args.clients)
    ]

    def server_cpu() -> float:
        return sum(cpu_seconds(session_id=s.pid) for s in servers)

    cpu_before = server_cpu(), cpu_seconds(command="postgres")
    machine_before = machine_cpu()
    started = time.perf_counter()
    for proc in clients:
        proc.start()
    parts = [queue.get() for _ in clients]
    elapsed = time.perf_counter() - started
    cpu = server_cpu() - cpu_before[0]
    postgres_cpu = cpu_seconds(command="postgres") - cpu_before[1]
    machine_after = machine_cpu()
    for proc in clients:
        proc.join()
    return parts, elapsed, cpu, postgres_cpu, machine_before, machine_after


def run_one(
    kind: str,
    args: argparse.Namespace,
    *,
    target: str = "closedloop",
    processes: int = 1,
    workers: int | None = None,
) -> dict[str, object]:
    """One measurement: start the server(s), drive them, count what was stored.

    ``processes`` > 1 starts that many separate ``closedloop serve`` instances (each with
    ``workers`` gunicorn workers, default ``--workers``) on the same database, the clients
    spread over them.
    """
    workers = workers or args.workers
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if target == "bare":
            url, schema = f"sqlite:///{workdir / 'bare.db'}", None
        else:
            url, schema = database_url(kind, workdir, args.pg_url)
        servers: list[subprocess.Popen] = []
        ports: list[int] = []
        try:
            for _ in range(processes):
                # One after another: the first migrates the schema before the next starts on it.
                if target == "bare":
                    server, port = bare_server(workdir / "bare.db", workers, args)
                else:
                    server, port = closedloop_server(url, workers, workdir, args)
                servers.append(server)
                ports.append(port)
                wait_healthy(port, server)
            parts, elapsed, server_cpu, postgres_cpu, before, after = drive(ports, servers, args)
        finally:
            for server in servers:
                os.killpg(server.pid, signal.SIGTERM)
            for server in servers:
                server.wait(30)
        sent = sum(p[0] for p in parts)
        ok = sum(p[1] for p in parts)
        latencies = sorted(lat for p in parts for lat in p[2])
        client_cpu = sum(p[3] for p in parts)
        busy = after[0] - before[0]
        capacity = (after[1] - before[1]) or 1.0
        stored = stored_rows(url, "hits" if target == "bare" else "touchpoints")
        if schema:
            engine = create_engine(args.pg_url)
            with engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            engine.dispose()
    return {
        "database": kind,
        "target": target,
        "processes": processes,
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


def print_result(result: dict[str, object]) -> None:
    label = f"{result['target']}/{result['database']}"
    if result["processes"] != 1:
        label += f" x{result['processes']}"
    print(
        f"{label:>20}: {result['hits_per_s']:>8} hits/s  "
        f"p50 {result['p50_ms']} ms  p99 {result['p99_ms']} ms  "
        f"sent {result['sent']}  acknowledged {result['acknowledged']}  "
        f"stored {result['stored']}  lost {result['lost']}  "
        f"server CPU {result['server_cpu_ms_per_hit']} ms/hit"
        + (
            f" + postgres {result['postgres_cpu_ms_per_hit']}"
            if result["database"] == "postgresql"
            else ""
        )
        + f"  client CPU {result['client_cpu_ms_per_hit']} ms/hit",
        flush=True,
    )
    cores = result["cores"]
    print(
        f"{'':>20}  cores used: " + "  ".join(f"{name} {value}" for name, value in cores.items()),  # type: ignore[union-attr]
        flush=True,
    )


def median_of(results: list[dict[str, object]], key: str) -> float:
    return statistics.median(float(r[key]) for r in results)  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--part",
        action="append",
        choices=["bare", "scale", "db"],
        help="bare: closedloop vs bare Flask on SQLite; scale: 1 vs 2 processes on PostgreSQL; "
        "db: closedloop alone on each --db (default: bare and scale; db when --db is given)",
    )
    parser.add_argument("--db", action="append", choices=["sqlite", "postgresql"])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3, help="alternations per comparison")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--threads", type=int, default=8, help="threads per client process")
    parser.add_argument(
        "--per-connection", type=int, default=50, help="requests per keep-alive connection"
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per process")
    parser.add_argument(
        "--scale-workers", type=int, default=1, help="gunicorn workers per process in scale"
    )
    parser.add_argument("--server-threads", type=int, default=8, help="threads per worker")
    parser.add_argument("--pg-url", default=os.environ.get("CLOSEDLOOP_BENCH_PG", PG_DEFAULT))
    args = parser.parse_args()
    # --db alone keeps its old meaning: closedloop alone on each database named.
    parts = args.part or (["db"] if args.db else ["bare", "scale"])
    if "db" in parts:
        for kind in args.db or ["sqlite", "postgresql"]:
            print_result(run_one(kind, args))
    if "bare" in parts:
        ours: list[dict[str, object]] = []
        bare: list[dict[str, object]] = []
        for _ in range(args.repeat):
            for target, into in (("closedloop", ours), ("bare", bare)):
                into.append(run_one("sqlite", args, target=target))
                print_result(into[-1])
        rate, reference = median_of(ours, "hits_per_s"), median_of(bare, "hits_per_s")
        p99 = max(float(r["p99_ms"]) for r in ours)  # type: ignore[arg-type]
        whole = all(r["lost"] == 0 and r["acknowledged"] == r["sent"] for r in ours)
        print(
            f"closedloop / bare Flask+gunicorn+SQLite (medians of {args.repeat}, "
            f"{args.workers} workers x {args.server_threads} threads each): "
            f"{rate:.0f} / {reference:.0f} hits/s = {rate / reference:.2f} (target >= 0.7); "
            f"worst p99 {p99} ms (target < 50); sent = acknowledged = stored: {whole}",
            flush=True,
        )
    if "scale" in parts:
        one: list[dict[str, object]] = []
        two: list[dict[str, object]] = []
        for _ in range(args.repeat):
            for processes, into in ((1, one), (2, two)):
                into.append(
                    run_one("postgresql", args, processes=processes, workers=args.scale_workers)
                )
                print_result(into[-1])
        single, double = median_of(one, "hits_per_s"), median_of(two, "hits_per_s")
        print(
            f"scale-out on one PostgreSQL (medians of {args.repeat}; each closedloop serve with "
            f"{args.scale_workers} worker(s) x {args.server_threads} threads): two processes / one "
            f"{double:.0f} / {single:.0f} hits/s = {double / single:.2f}x (target >= 1.7x)",
            flush=True,
        )


if __name__ == "__main__":
    main()
