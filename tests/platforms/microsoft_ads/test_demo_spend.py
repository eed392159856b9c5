"""``closedloop demo`` pulls Microsoft spend through the Reporting service and reports it.

The demo's Microsoft hook seeds keyword-level Search spend and a keyword-less Audience
campaign into the sandbox; after the run, each Microsoft campaign's source-report row must hold
exactly what the sandbox was seeded with over the report's days, and the Audience campaign's
spend must be on the Display channel row (nothing else in the demo spends on Display).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from connector.demo.run import run_demo
from connector.reports import ReportRange, source_report


def test_demo_reports_microsoft_spend_by_campaign_and_channel() -> None:
    """Campaign rows equal the seeded delivery; the Audience campaign's spend is Display."""
    seen: dict[str, Any] = {}

    def inspect(boxes: dict[str, Any], runtime: Any, world: Any) -> None:
        rng = ReportRange(min(r.day for r in world.spend), world.now.date())
        seeded: dict[str, Decimal] = defaultdict(Decimal)
        for d in boxes["microsoft_ads"].reporting.delivery:
            if rng.start <= d.day <= rng.end:
                seeded[d.campaign] += d.cost
        seen["seeded"] = dict(seeded)
        with runtime.sessions() as s:
            for by in ("campaign", "channel"):
                rows = source_report(s, rng, by=by)["rows"]
                seen[by] = {r["group"]: r["spend"] for r in rows}

    result = run_demo(visitors=40, seed=7, echo=lambda _: None, on_finish=inspect)
    assert [r["status"] for r in result.runs] == ["succeeded", "succeeded"]
    seeded = seen["seeded"]
    assert set(seeded) == {"Bing brand search", "Audience - lookalike visitors"}
    for campaign, cost in seeded.items():
        assert seen["campaign"][campaign] == cost.quantize(Decimal("0.01")), campaign
    assert seen["channel"]["Display"] == seeded["Audience - lookalike visitors"]
