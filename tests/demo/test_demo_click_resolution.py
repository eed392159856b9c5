"""The demo without UTMs on Google clicks: campaign and keyword ROI still match the spend rows.

Most Google Ads accounts auto-tag and add no UTMs, so the landing URL carries only a gclid.
The whole demo loop runs (tracking endpoint, HubSpot sync, spend pull against the Google Ads
sandbox, which resolves gclids through click_view); then each Google campaign's and keyword's
report row must hold exactly the spend the world generated for it and the revenue of the deals
credited to the pages of sessions that landed from a click the generator sent from that
campaign/keyword (pages inside a session carry the session's source). gbraid/wbraid
clicks (not in click_view) and gclids older than Google's 90 days stay on "(not set)".
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from connector.demo.run import run_demo
from connector.reports import ReportRange, source_report
from connector.reports.kpis import ratio
from connector.reports.sources import source_report_options
from connector.storage.models import Attribution, Deal, Touchpoint, model_revenue, utcnow

GOOGLE = "google_ads"
#: Last click credits mostly landing pages; linear also the pages inside each session.
MODES = [(by, model) for by in ("campaign", "keyword") for model in ("last_click", "linear")]
CENT = Decimal("0.01")


def _ms(when: datetime) -> datetime:
    """The browser reports milliseconds; the store keeps what it reported."""
    return when.replace(microsecond=when.microsecond // 1000 * 1000)


def expected(
    world: Any, runtime: Any, rng: ReportRange, by: str, model: str
) -> dict[str, list[Decimal]]:
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
    # Every page of a session that landed from a resolvable gclid belongs to that click.
    pages: dict[tuple[str, datetime], str] = {}
    for visitor in world.visitors:
        sessions: dict[str, list[Any]] = defaultdict(list)
        for view in visitor.page_views:
            sessions[view.ga_session_id].append(view)
        for views in sessions.values():
            gclid = parse_qs(urlsplit(views[0].url).query).get("gclid", [None])[0]
            if gclid in clicks:
                pages.update({(v.url, _ms(v.ts)): clicks[gclid] for v in views})
    rates = {"USD": Decimal(1), **runtime.settings.reports.fx_rates}
    with runtime.sessions() as s:
        credited = s.execute(
            select(Touchpoint.url, Touchpoint.occurred_at, model_revenue(model))
            .add_columns(Deal.currency)
            .join(Attribution, Attribution.touchpoint_id == Touchpoint.id)
            .join(Deal, Deal.id == Attribution.deal_id)
            .where(
                Deal.is_won.is_(True),
                Deal.close_time >= rng.since,
                Deal.close_time < rng.until,
                model_revenue(model) > 0,
            )
        )
        for url, when, revenue, currency in credited:
            group = pages.get((url, _ms(when.astimezone(UTC))))
            if group is not None:
                want[group][0] += revenue * rates[currency]
    return want


def test_google_rows_without_utms_join_revenue_and_spend_by_click() -> None:
    seen: dict[str, Any] = {}

    def inspect(boxes: dict[str, Any], runtime: Any, world: Any) -> None:
        first = min(r.day for r in world.spend)
        rng = ReportRange(first, world.now.date())
        options = source_report_options(runtime.settings)
        for by, model in MODES:
            with runtime.sessions() as s:
                rows = source_report(s, rng, by=by, model=model, **options)["rows"]
            seen[by, model] = (
                {r["group"]: r for r in rows},
                expected(world, runtime, rng, by, model),
            )

    result = run_demo(
        visitors=120, seed=11, echo=lambda _: None, on_finish=inspect, google_utms=False
    )
    assert [r["status"] for r in result.runs] == ["succeeded", "succeeded"]
    for by, model in MODES:
        rows, want = seen[by, model]
        assert want and any(revenue for revenue, _ in want.values()), "no Google revenue"
        for group, (revenue, spend) in want.items():
            row = rows[group]
            spend, revenue = spend.quantize(CENT), revenue.quantize(CENT)
            assert row["spend"] == spend, (by, model, group)
            assert row["revenue"] == revenue, (by, model, group)
            roi = ratio(revenue - spend, spend)
            assert roi is not None
            roi = roi.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
            assert row["kpis"]["roi"] == roi, (by, group, row["kpis"])
