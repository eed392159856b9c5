"""The demo with Meta's ID URL parameters: Meta campaign and ad ROI match Meta's spend rows.

Meta clicks land with ``utm_id={{campaign.id}}&utm_term={{adset.id}}&utm_content={{ad.id}}`` and
``utm_campaign`` as Meta snapshotted the name at publish time (one campaign was renamed since,
so its URLs carry the old name). The whole demo loop runs against the Meta Graph sandbox; then
each Meta campaign's and ad's report row must hold exactly the spend the world generated for it
and the revenue of the deals credited to the pages of sessions that landed from a Meta click of
that campaign (the demo has one ad set and one ad per campaign; the sandbox names the ad
"<campaign> ad"). Sessions that landed more than a day before the first spend day are outside
every pull's window and are not expected to resolve.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from connector.demo.generator import META_CAMPAIGNS, META_PUBLISHED_NAMES
from connector.demo.run import run_demo
from connector.reports import ReportRange, source_report
from connector.reports.kpis import ratio
from connector.reports.sources import source_report_options
from connector.storage.models import Attribution, Deal, Touchpoint, model_revenue

MODES = [(by, model) for by in ("campaign", "ad") for model in ("last_click", "linear")]
CENT = Decimal("0.01")


def _ms(when: datetime) -> datetime:
    """The browser reports milliseconds; the store keeps what it reported."""
    return when.replace(microsecond=when.microsecond // 1000 * 1000)


def expected(world: Any, runtime: Any, rng: ReportRange, by: str, model: str) -> dict:
    """Hand-computed [revenue, spend] per Meta campaign or ad, from the world's truth."""
    label = (lambda name: name) if by == "campaign" else (lambda name: f"{name} ad")
    want: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for row in world.spend:
        if row.platform == "meta" and rng.start <= row.day <= rng.end:
            want[label(row.campaign)][1] += row.cost
    oldest = datetime.combine(rng.start - timedelta(days=1), time.min, tzinfo=UTC)
    pages: dict[tuple[str, datetime], str] = {}
    for visitor in world.visitors:
        sessions: dict[str, list[Any]] = defaultdict(list)
        for view in visitor.page_views:
            sessions[view.ga_session_id].append(view)
        for views in sessions.values():
            campaign_id = parse_qs(urlsplit(views[0].url).query).get("utm_id", [None])[0]
            if campaign_id in META_CAMPAIGNS and views[0].ts >= oldest:
                name = label(META_CAMPAIGNS[campaign_id][0])
                pages.update({(v.url, _ms(v.ts)): name for v in views})
    rates = {"USD": Decimal(1), **runtime.settings.reports.fx_rates}
    with runtime.sessions() as s:
        credited = s.execute(
            select(Touchpoint.url, Touchpoint.occurred_at, model_revenue(model), Deal.currency)
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


def test_meta_rows_join_revenue_and_spend_by_the_ids_in_their_urls() -> None:
    """Every Meta campaign and ad row: the world's spend, its sessions' revenue, their ROI."""
    seen: dict[Any, Any] = {}

    def inspect(boxes: dict[str, Any], runtime: Any, world: Any) -> None:
        rng = ReportRange(min(r.day for r in world.spend), world.now.date())
        options = source_report_options(runtime.settings)
        for by, model in [*MODES, ("keyword", "last_click")]:
            with runtime.sessions() as s:
                rows = source_report(s, rng, by=by, model=model, **options)["rows"]
            seen[by, model] = (
                {r["group"]: r for r in rows},
                expected(world, runtime, rng, by, model) if by != "keyword" else {},
            )

    result = run_demo(
        visitors=120, seed=19, echo=lambda _: None, on_finish=inspect, meta_url_ids=True
    )
    assert [r["status"] for r in result.runs] == ["succeeded", "succeeded"]
    for by, model in MODES:
        rows, want = seen[by, model]
        assert want and all(revenue for revenue, _ in want.values()), "no Meta revenue"
        for group, (revenue, spend) in want.items():
            row = rows[group]
            spend, revenue = spend.quantize(CENT), revenue.quantize(CENT)
            assert (row["revenue"], row["spend"]) == (revenue, spend), (by, model, group)
            roi = ratio(revenue - spend, spend)
            assert roi is not None
            assert row["kpis"]["roi"] == roi.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    stale = set(META_PUBLISHED_NAMES.values())
    assert not stale & set(seen["campaign", "last_click"][0]), "a URL's old name kept a row"
    # Meta has no keywords: none of its ads is a keyword row (with spend and no revenue).
    ads = {f"{name} ad" for name, _ in META_CAMPAIGNS.values()}
    assert not ads & set(seen["keyword", "last_click"][0])
