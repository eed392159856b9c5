"""Benchmark the dashboard's drill-down against the plain source report, on PostgreSQL.

Seeds the same world as ``bench/reports.py`` (its ``seed``), then times, over the whole six
months, each drill-down level the dashboard shows (Paid Search -> google / cpc -> a campaign)
beside the plain source report grouped the same way in the same run: the reference. The
drill groups by the parent dimensions and the child in one joined key, so the ratio is the
cost of that wider GROUP BY key (and of the lifecycle counts, which drill the same way).

    .venv/bin/python bench/drill.py                                        # 1M / 100k
    .venv/bin/python bench/drill.py --touchpoints 100000 --deals 10000     # quick

Target: every drilled level < 2 s, like every report.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from reports import DAYS, END, FX, PG_DEFAULT, seed

from connector.config import parse_config
from connector.reports import ReportRange, source_report
from connector.reports.drill import drilled_source_report
from connector.runtime import Runtime


def best_of(call, runs: int = 3) -> float:
    """The fastest of ``runs`` calls, in seconds (the first run also warms the cache)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=PG_DEFAULT)
    parser.add_argument("--touchpoints", type=int, default=1_000_000)
    parser.add_argument("--deals", type=int, default=100_000)
    args = parser.parse_args()
    schema = f"bench_drill_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in args.url else "?"
    url = f"{args.url}{sep}options={quote(f'-csearch_path={schema}')}"
    start = END - timedelta(days=DAYS)
    worst = 0.0
    try:
        settings = parse_config({"database": {"url": url}, "reports": {"fx_rates": FX}})
        runtime = Runtime.from_settings(settings)
        counts = seed(url, args.touchpoints, args.deals, start)
        print(f"seeded: {counts}")
        rng = ReportRange(start, END)
        options = {"currency": "USD", "fx_rates": FX, "model": "last_click"}
        options["lifecycle_mapped"] = True
        with runtime.sessions() as s:
            top = source_report(s, rng, by="channel", **options)
            channel = next(r["group"] for r in top["rows"] if r["group"] != "(no journey)")
            sm = drilled_source_report(
                s, rng, by="source_medium", where={"channel": channel}, **options
            )
            source_medium = sm["rows"][0]["group"]
            where2 = {"channel": channel, "source_medium": source_medium}
            camp = drilled_source_report(s, rng, by="campaign", where=where2, **options)
            campaign = camp["rows"][0]["group"]
            levels = [
                ("source_medium", {"channel": channel}),
                ("campaign", where2),
                ("keyword", {**where2, "campaign": campaign}),
            ]
            print("measured: best of 3 runs of one report over all six months (seconds)")
            print(f"{'level':<60} {'plain':>7} {'drilled':>8} {'ratio':>6}")
            for by, where in levels:
                plain = best_of(lambda by=by: source_report(s, rng, by=by, **options))
                drilled = best_of(
                    lambda by=by, where=where: drilled_source_report(
                        s, rng, by=by, where=where, **options
                    )
                )
                label = f"{by} under {' > '.join(where.values())}"[:60]
                print(f"{label:<60} {plain:7.3f} {drilled:8.3f} {drilled / plain:6.2f}")
                worst = max(worst, drilled)
        runtime.close()
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    print(f"slowest drilled level: {worst:.3f} s (target < 2 s)")
    return 0 if worst < 2 else 1


if __name__ == "__main__":
    sys.exit(main())
