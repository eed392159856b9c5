"""Benchmark: retraining the data-driven models from the store, the database read included.

``bench/attribution.py`` times the fit over journeys held in memory; this one times what a
sync run or the model comparison really does: read the trailing window's journeys from
PostgreSQL (``training_paths``: the won deals' credited touches, then every session of the
visitors who never bought, both streamed) and learn from them. The store is seeded with
``bench/reports.py``'s set-based SQL (three touches per visitor, so ``--journeys`` visitors
mean three times as many touchpoints, and 45 % of ``--deals`` won).

What is inside each figure (one phase each; wall time, and this process's CPU, which leaves
out the database server's own work):

1. **Read**: ``training_paths`` over the whole seeded window (180 days).
2. **Reference**: the same two statements fetched bare through psycopg (no ORM, no folding
   into paths), in the same run, and the ratio of 1. to it.
3. **Fit as a sync learns it**: ``learn`` without bootstrap resamples (order 1).
4. **Fit as the model comparison learns it**: ``learn`` with its 10 bootstrap resamples.
5. **Total** of 1 + 3 (a sync run's retrain) and of 1 + 4 (the comparison's first call).

Seeding is outside every figure. Target (issue 18): retraining on 1M journeys under a minute.

    .venv/bin/python bench/retrain.py --journeys 1000000 --deals 300000
    .venv/bin/python bench/retrain.py --journeys 30000 --deals 3000      # quick
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from reports import DAYS, END, PG_DEFAULT, seed  # bench/reports.py: the same seeded store

from connector.config import parse_config
from connector.reports.data_driven import learn, training_paths
from connector.runtime import Runtime

#: The two reads ``training_paths`` makes, written bare (same joins, filters and order).
WON_SQL = """
SELECT a.deal_id, t.channel, t.visitor_id, d.amount
FROM attributions a JOIN touchpoints t ON t.id = a.touchpoint_id
JOIN deals d ON d.id = a.deal_id
WHERE d.is_won AND d.close_time >= %s AND d.close_time < %s
ORDER BY a.deal_id, t.occurred_at, t.id
"""
VISITS_SQL = """
SELECT visitor_id, channel FROM touchpoints
WHERE is_new_session AND occurred_at >= %s AND occurred_at < %s
ORDER BY visitor_id, occurred_at, id
"""


def phase(label: str, call: Callable[[], Any]) -> tuple[Any, float, float]:
    """Run ``call``; print and return its result, wall seconds and this process's CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"  {label:<52} {wall:7.2f} s wall {cpu:7.2f} s CPU", flush=True)
    return result, wall, cpu


def bare_fetch(runtime: Runtime, since: datetime, until: datetime) -> int:
    """Both statements' rows, fetched in batches like the streamed read; the row count."""
    rows = 0
    with runtime.engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        for sql in (WON_SQL, VISITS_SQL):
            with raw.cursor(name=f"bare_{uuid.uuid4().hex[:6]}") as cursor:
                cursor.itersize = 10_000
                cursor.execute(sql, (since, until))
                for _ in cursor:
                    rows += 1
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=PG_DEFAULT, help="PostgreSQL URL (a schema is created)")
    parser.add_argument("--journeys", type=int, default=1_000_000, help="visitors (3 touches each)")
    parser.add_argument("--deals", type=int, default=300_000)
    parser.add_argument("--schema", help="reuse a schema seeded by an earlier --keep run")
    parser.add_argument("--keep", action="store_true", help="keep the seeded schema")
    args = parser.parse_args()
    if args.deals * 9 > args.journeys * 3:
        parser.error("need at least 3 journeys per deal (leads sit on every second visitor)")
    schema = args.schema or f"bench_retrain_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.url)
    if args.schema:
        args.keep = True
    else:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in args.url else "?"
    url = f"{args.url}{sep}options={quote(f'-csearch_path={schema}')}"
    start = END - timedelta(days=DAYS)
    since = datetime(start.year, start.month, start.day, tzinfo=UTC)
    until = datetime(END.year, END.month, END.day, tzinfo=UTC)
    try:
        runtime = Runtime.from_settings(parse_config({"database": {"url": url}}))
        if not args.schema:
            print(f"seeding schema {schema} ({args.journeys:,} journeys) ...", flush=True)
            began = time.perf_counter()
            counts = seed(url, args.journeys * 3, args.deals, start)
            print(f"seeded in {time.perf_counter() - began:.0f} s (outside every figure): {counts}")
        print(f"window {since:%Y-%m-%d} .. {until:%Y-%m-%d}")
        with runtime.sessions() as session:
            paths, read_wall, read_cpu = phase(
                "read: training_paths (streamed, folded per path)",
                lambda: training_paths(session, since, until, 1),
            )
        rows, bare_wall, _ = phase(
            "reference: the same rows fetched bare (psycopg)",
            lambda: bare_fetch(runtime, since, until),
        )
        print(f"  read / reference: {read_wall / bare_wall:.2f}x wall ({rows:,} rows)")
        journeys = sum(p.conversions + p.nulls for p in paths)
        print(f"  {journeys:,} journeys in {len(paths):,} distinct paths")
        _, sync_wall, sync_cpu = phase(
            "fit as a sync learns it (order 1, no resamples)",
            lambda: learn(paths, order=1, bootstrap=0, since=since, until=until),
        )
        _, cmp_wall, cmp_cpu = phase(
            "fit as the model comparison learns it (10 resamples)",
            lambda: learn(paths, order=1, bootstrap=10, since=since, until=until),
        )
        print(
            f"retrain total, sync run:          {read_wall + sync_wall:7.2f} s wall "
            f"{read_cpu + sync_cpu:7.2f} s CPU (target < 60 s at 1M journeys)"
        )
        print(
            f"retrain total, model comparison:  {read_wall + cmp_wall:7.2f} s wall "
            f"{read_cpu + cmp_cpu:7.2f} s CPU"
        )
        runtime.close()
    finally:
        if not args.keep:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        else:
            print(f"kept schema {schema}")
        admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
