"""Benchmark: learning the data-driven models from N journeys, against ChannelAttribution.

What is inside each figure (this process's CPU time and wall time, one phase each):

1. **Aggregate**: N generated journeys (1-6 touches over 8 channels, channel-dependent odds of
   converting, values 100-1,000) summed into distinct paths, as the report does before
   learning.
2. **Markov**, orders 1, 2 and 3: building the chain from the distinct paths and every
   channel's removal effect (exact).
3. **Shapley**: exact values over the converting journeys.
4. **Reference**: ``ChannelAttribution.markov_model`` (the reference package, C++, simulated)
   and ours, both on the distinct paths of the first ``--reference-journeys`` journeys (its
   simulation takes minutes per order at 1M), at each order, with the simulation budget that
   reaches 1 % agreement (``nsim_start=100_000``, ``conv_par=0.001``), and the ratio of times.

5. **The sync's fit against the report's**: ``learn`` (aggregate, Markov order 1 and Shapley)
   over all N journeys as a sync run does it (no bootstrap resamples) and as the model
   comparison does it (10 resamples, its default), this process's CPU each, and the ratio.
   Reading the journeys from the store is outside both.

Generating the journeys is outside every figure. Requires the dev extras (ChannelAttribution,
pandas); ``--reference-journeys 0`` skips step 4.

    python bench/attribution.py --journeys 1000000 --reference-journeys 100000
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connector.attribution.markov import PathCount, aggregate, removal_effects
from connector.attribution.shapley import shapley_values
from connector.reports.data_driven import learn

CHANNELS = (
    "Paid Search",
    "Organic Search",
    "Paid Social",
    "Email",
    "Referral",
    "Display",
    "Direct",
    "Affiliates",
)


def journeys(n: int, seed: int) -> list[PathCount]:
    """N single journeys (one PathCount each, before aggregation)."""
    rng = random.Random(seed)
    lift = {c: 0.01 * (i + 1) for i, c in enumerate(CHANNELS)}
    out = []
    for _ in range(n):
        path = tuple(rng.choice(CHANNELS) for _ in range(rng.randint(1, 6)))
        converted = rng.random() < sum(lift[c] for c in set(path))
        value = float(rng.randrange(100, 1001, 50)) if converted else 0.0
        out.append(PathCount(path, int(converted), value, int(not converted)))
    return out


def timed(work: Callable[[], Any]) -> tuple[Any, float, float]:
    """Result, wall seconds, this process's CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def reference(paths: list[PathCount], order: int) -> None:
    """ChannelAttribution's Markov model on the same distinct paths."""
    import pandas
    from ChannelAttribution import markov_model

    frame = pandas.DataFrame(
        [(" > ".join(p.channels), p.conversions, p.value, p.nulls) for p in paths],
        columns=["path", "conv", "value", "null"],
    )
    markov_model(
        frame,
        "path",
        "conv",
        var_value="value",
        var_null="null",
        order=order,
        verbose=False,
        flg_pro=False,
        nsim_start=100_000,
        conv_par=0.001,
        max_step=1000,
        ncore=1,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journeys", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reference-journeys", type=int, default=100_000)
    args = parser.parse_args()

    raw = journeys(args.journeys, args.seed)
    distinct, wall, cpu = timed(lambda: aggregate(raw))
    converting = sum(p.conversions for p in distinct)
    print(f"journeys: {args.journeys:,} ({converting:,} converting), paths: {len(distinct):,}")
    print(f"aggregate:          wall {wall:7.2f} s   CPU {cpu:7.2f} s", flush=True)
    total = cpu
    for order in (1, 2, 3):
        _, wall, cpu = timed(lambda o=order: removal_effects(distinct, order=o))
        total += cpu
        print(f"markov order {order}:     wall {wall:7.2f} s   CPU {cpu:7.2f} s", flush=True)
    pairs = [(p.channels, p.value) for p in distinct if p.conversions]
    _, wall, cpu = timed(lambda: shapley_values(pairs))
    total += cpu
    print(f"shapley (exact):    wall {wall:7.2f} s   CPU {cpu:7.2f} s")
    print(f"retraining, every model: CPU {total:.2f} s, {args.journeys:,} journeys (target < 60)")
    since, until = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC)
    _, _, sync_cpu = timed(lambda: learn(raw, order=1, bootstrap=0, since=since, until=until))
    _, _, report_cpu = timed(lambda: learn(raw, order=1, bootstrap=10, since=since, until=until))
    print(
        f"sync fit (no bootstrap): CPU {sync_cpu:7.2f} s   report fit (10 resamples): CPU"
        f" {report_cpu:7.2f} s   sync/report {sync_cpu / report_cpu:6.3f}",
        flush=True,
    )
    if args.reference_journeys:
        sample = aggregate(raw[: args.reference_journeys])
        print(f"reference, first {args.reference_journeys:,} journeys ({len(sample):,} paths):")
        for order in (1, 2, 3):
            _, wall, _ = timed(lambda o=order: removal_effects(sample, order=o))
            _, ref_wall, _ = timed(lambda o=order: reference(sample, o))
            print(
                f"  order {order}: ours {wall:7.2f} s   ChannelAttribution {ref_wall:7.2f} s"
                f"   ours/reference {wall / ref_wall:6.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
