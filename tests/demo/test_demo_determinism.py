"""Same seed, same world: the demo prints the same figures however its requests arrive."""

from __future__ import annotations

import re

from connector.demo.run import run_demo

#: What may differ between two runs: durations and the temp folder.
VOLATILE = (
    (re.compile(r"\(\d+(\.\d+)?s\)"), "(…s)"),
    (re.compile(r" in \d+(\.\d+)?s "), " in …s "),
    (re.compile(r"closedloop-demo-[\w-]+"), "closedloop-demo-…"),
)


def _figures(visitors: int, seed: int, *, reverse_replay: bool) -> list[str]:
    lines: list[str] = []
    run_demo(visitors=visitors, seed=seed, echo=lines.append, reverse_replay=reverse_replay)
    for pattern, replacement in VOLATILE:
        lines = [pattern.sub(replacement, line) for line in lines]
    return lines


def test_same_seed_prints_the_same_figures_in_any_arrival_order():
    """Two demo runs of one seed, requests sent in opposite orders, print identical figures.

    Seed 7 with 60 visitors has a shared device: a second device of one lead on which a
    later lead (who also has a deal) identifies; whoever arrives last must not decide whose
    journey it is. Every printed figure is compared: counts per step, each sync's counts
    (``contacts_pulled`` included), what each platform kept and the source report.
    """
    first = _figures(60, 7, reverse_replay=False)
    second = _figures(60, 7, reverse_replay=True)
    assert any("Source report" in line for line in first), first
    assert first == second
