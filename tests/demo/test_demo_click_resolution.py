"""The demo without UTMs on Google clicks: campaign and keyword ROI still match the spend rows.

Most Google Ads accounts auto-tag and add no UTMs, so the landing URL carries only a gclid.
The whole demo loop runs (tracking endpoint, HubSpot sync, spend pull against the Google Ads
sandbox, which resolves gclids through click_view); then each Google campaign's and keyword's
report row must hold exactly the spend the world generated for it and the revenue of the deals
credited to touches whose click the generator sent from that campaign/keyword. gbraid/wbraid
clicks (not in click_view) and gclids older than Google's 90 days stay on "(not set)".
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select

from connector.demo.run import run_demo
from connector.reports import ReportRange, source_report
from connector.reports.kpis import ratio
from connector.reports.sources import source_report_options
from connector.storage.models import Attribution, Deal, Touchpoint, utcnow

GOOGLE = "google_ads"
CENT = Decimal("0.01")


def expected(world: Any, runtime: Any, rng: ReportRange, by: str) -> dict[str, list[Decimal]]:
    """Hand-computed [revenue, spend] per Google campaign or keyword, from the world's truth."""
    name = {"campaign": lambda c: c.campaign, "keyword": lambda c: c.group}[by]
    want: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for row in world.spend:
        if row.platform == GOOGLE and rng.start <= row.day <= rng.end:
            want[name(row)][1] += row.cost
    from connector.demo.generator import GOOGLE_CAMPAIGNS

    oldest = utcnow() - timedelta(days=89)
    clicks = {
        c.value: GOOGLE_CAMPAIGNS[c.campaign_id][0] if by == "campaign" else c.keyword
        for c in world.clicks
        if c.platform == GOOGLE and c.kind == "gclid" and c.ts >= oldest
    }
    rates = {"USD": Decimal(1), **runtime.settings.reports.fx_rates}
    with runtime.sessions() as s:
        credited = s.execute(
            select(Touchpoint.click_ids, Attribution.last_click_revenue, Deal.currency)
            .join(Attribution, Attribution.touchpoint_id == Touchpoint.id)
            .join(Deal, Deal.id == Attribution.deal_id)
            .where(
                Deal.is_won.is_(True),
                Deal.close_time >= rng.since,
                Deal.close_time < rng.until,
                Attribution.last_click_revenue > 0,
            )
        )
        for click_ids, revenue, currency in credited:
            gclid = (click_ids or {}).get("gclid")
            if gclid in clicks:
                want[clicks[gclid]][0] += revenue * rates[currency]
    return want


def test_google_rows_without_utms_join_revenue_and_spend_by_click() -> None:
    seen: dict[str, Any] = {}

    def inspect(boxes: dict[str, Any], runtime: Any, world: Any) -> None:
        first = min(r.day for r in world.spend)
        rng = ReportRange(first, world.now.date())
        options = source_report_options(runtime.settings)
        for by in ("campaign", "keyword"):
            with runtime.sessions() as s:
                rows = source_report(s, rng, by=by, model="last_click", **options)["rows"]
            seen[by] = ({r["group"]: r for r in rows}, expected(world, runtime, rng, by))

    result = run_demo(
        visitors=120, seed=11, echo=lambda _: None, on_finish=inspect, google_utms=False
    )
    assert [r["status"] for r in result.runs] == ["succeeded", "succeeded"]
    for by in ("campaign", "keyword"):
        rows, want = seen[by]
        assert want and any(revenue for revenue, _ in want.values()), "no Google revenue"
        for group, (revenue, spend) in want.items():
            row = rows[group]
            spend, revenue = spend.quantize(CENT), revenue.quantize(CENT)
            assert row["spend"] == spend, (by, group)
            assert row["revenue"] == revenue, (by, group)
            roi = ratio(revenue - spend, spend)
            assert roi is not None
            roi = roi.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
            assert row["kpis"]["roi"] == roi, (by, group, row["kpis"])
