"""Profile /collect in-process: request threads calling the WSGI app, and the hit writer.

``bench/collect.py`` measures the whole server (gunicorn's HTTP work included); this isolates
closedloop's own work per hit. ``--threads`` threads each send ``--hits`` page views (the
benchmark's payload) straight to the app's WSGI callable, so the writer groups them into
batches as it does under load. Prints CPU per hit and the mean batch; with ``--profile``, one
cProfile per request thread plus one around every writer batch, merged and sorted.

    .venv/bin/python bench/profile_collect.py                 # CPU per hit, no profiler
    .venv/bin/python bench/profile_collect.py --profile       # where it goes (slower)
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from collect import hit_body  # noqa: E402  (bench/, beside this script)


def environ(body: bytes) -> dict[str, Any]:
    """A browser's POST /collect as gunicorn hands it to the app."""
    return {
        "PATH_INFO": "/collect",
        "REQUEST_METHOD": "POST",
        "CONTENT_TYPE": "text/plain;charset=UTF-8",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64) bench",
        "wsgi.url_scheme": "http",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--hits", type=int, default=400, help="page views per thread")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    from connector.app import create_app
    from connector.config import parse_config
    from connector.tracking.writer import HitWriter

    folder = tempfile.mkdtemp(prefix="closedloop-profile-")
    settings = parse_config(
        {
            "database": {"url": f"sqlite:///{folder}/profile.db"},
            "server": {"rate_limit_per_minute": 100_000_000},
            "schedule": {"enabled": False},
            "logging": {"level": "WARNING"},
        },
        env={},
    )
    app = create_app(settings)
    batches: list[int] = []
    writer_profile = cProfile.Profile()
    write = HitWriter._write

    def observed(self: HitWriter, batch: list[Any]) -> None:
        batches.append(len(batch))
        if args.profile:
            writer_profile.enable()
        try:
            write(self, batch)
        finally:
            if args.profile:
                writer_profile.disable()

    HitWriter._write = observed  # type: ignore[method-assign]
    profiles: list[cProfile.Profile] = []

    def call(thread: int, n: int) -> None:
        answer: list[str] = []
        list(app(environ(hit_body(0, thread, n)), lambda status, *_: answer.append(status)))
        if not answer[0].startswith("204"):
            raise SystemExit(f"/collect answered {answer[0]}")

    def run(thread: int) -> None:
        profile = cProfile.Profile()
        for n in range(args.hits):
            if args.profile:
                profile.enable()
            call(thread, n)
            if args.profile:
                profile.disable()
        profiles.append(profile)

    call(-1, 0)  # the writer thread and the first connection, outside the measurement
    batches.clear()
    cpu, wall = time.process_time(), time.perf_counter()
    threads = [threading.Thread(target=run, args=(t,)) for t in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    hits = args.threads * args.hits
    print(
        f"{hits} hits: {(time.process_time() - cpu) * 1000 / hits:.3f} ms CPU per hit "
        f"(this process, every thread), {hits / (time.perf_counter() - wall):.0f} hits/s, "
        f"mean batch {sum(batches) / max(len(batches), 1):.1f}"
    )
    if args.profile:
        stats = pstats.Stats(writer_profile)
        for profile in profiles:
            stats.add(profile)
        stats.sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()
