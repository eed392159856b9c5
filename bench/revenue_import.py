"""Benchmark: ``closedloop import revenue`` of an N-row CSV file, throughput and peak memory.

What is inside each figure (this process's wall time and its peak resident memory):

1. **Check**: the first pass over the file, every row checked as ``POST /revenue`` checks a
   sale; nothing stored.
2. **Preview**: what the dashboard's upload page does before anything is stored: the same
   check of every row, then the first 1,000 good rows matched and planned (read only).
3. **Import**: the whole import (check, then store in batches of 500) into an empty store.
4. **Re-import**: the same file again: every row read, checked and found unchanged.
5. **Reference**, in the same run on the same file: the stdlib ``csv`` reader and one
   ``sqlite3`` ``executemany`` of the raw rows into a bare table (no checks, no dedup), the
   floor a CSV loader cannot beat; the import's ratio to it is printed.

Writing the file and migrating the database are outside every figure. The peak memory is the
process's maximum resident set size after each phase (``getrusage``), with the baseline after
migration printed first, so a flat import shows no growth with N. SQLite in a temporary
directory unless ``--database-url`` names another (a PostgreSQL schema of your own).

    python bench/revenue_import.py --rows 100000
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connector.config import parse_config
from connector.revenue.csv_import import check_file, import_file
from connector.revenue.preview import preview_file
from connector.runtime import Runtime


def write_csv(path: Path, rows: int, seed: int = 7) -> None:
    """``rows`` sales: order IDs, values, EUR/USD, times over 30 days, an email each."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    with path.open("w") as out:
        out.write("order_id,value,currency,time,email,gclid\n")
        for i in range(rows):
            at = start + timedelta(seconds=rng.randrange(30 * 86400))
            click = f"Cj0KCQ{i:010d}" if i % 3 == 0 else ""
            out.write(
                f"ORD{i:08d},{rng.randrange(1000, 100000) / 100},{rng.choice(('EUR', 'USD'))},"
                f"{at.isoformat()},buyer{i}@example.com,{click}\n"
            )


def peak_mib() -> float:
    """This process's peak resident memory so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sales.csv"
        write_csv(path, args.rows)
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        runtime = Runtime.from_settings(parse_config({"database": {"url": url}}, env={}))
        size = path.stat().st_size / 2**20
        print(f"{args.rows} rows, {size:.1f} MiB, {url.split(':')[0]}")
        print(f"baseline after migration: peak {peak_mib():.0f} MiB")
        try:
            for name, phase in (
                ("check", lambda: check_file(path, {}, "bench")),
                ("preview", lambda: preview_file(runtime, path, {}, "bench").report),
                ("import", lambda: import_file(runtime, path, {}, "bench")),
                ("re-import", lambda: import_file(runtime, path, {}, "bench")),
            ):
                began = time.perf_counter()
                report = phase()
                took = time.perf_counter() - began
                if name == "import":
                    imported = took
                assert report.bad_rows == 0, report.errors[:3]
                outcomes = dict(report.outcomes) or {"checked": report.rows}
                print(
                    f"{name:>9}: {took:6.1f} s, {args.rows / took:8.0f} rows/s, "
                    f"peak {peak_mib():.0f} MiB, {outcomes}"
                )
            reference = _bare_load(path, Path(tmp) / "reference.db")
            print(
                f"reference: {reference:6.1f} s, {args.rows / reference:8.0f} rows/s "
                f"(csv + sqlite3 executemany, no checks); import/reference rate "
                f"{reference / imported:.3f}"
            )
        finally:
            runtime.close()


def _bare_load(path: Path, database: Path) -> float:
    """Seconds to read the file with ``csv`` and insert its raw rows with ``sqlite3``."""
    import csv
    import sqlite3

    began = time.perf_counter()
    with path.open(newline="") as handle, sqlite3.connect(database) as conn:
        reader = csv.reader(handle)
        header = next(reader)
        columns = ", ".join(f"c{i}" for i in range(len(header)))
        conn.execute(f"CREATE TABLE sales ({columns})")
        marks = ", ".join("?" * len(header))
        conn.executemany(f"INSERT INTO sales VALUES ({marks})", reader)
    return time.perf_counter() - began


if __name__ == "__main__":
    main()
