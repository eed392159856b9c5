"""Daily cost, clicks and impressions from Google Ads (``GoogleAdsService.SearchStream``).

Rows come at the finest level Google reports without overlap: one per keyword, plus the part
of each ad group's spend that no keyword explains (display, shopping, dynamic ads), plus the part
of each campaign's spend that no ad group explains (Performance Max). Summing every row for a
day therefore gives exactly the account's cost, with no double counting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal

from platforms.google_ads.ads_api import AdsApiUploader
from platforms.google_ads.campaign_types import channel_of, type_name
from platforms.google_ads.clicks import DAYS_KEPT, ClickViewResolver
from platforms.google_ads.settings import GoogleAdsSettings
from platforms.reporting import ClickResolution, SpendRow

MICROS = Decimal(1_000_000)
_METRICS = "metrics.cost_micros, metrics.clicks, metrics.impressions"
CAMPAIGN_QUERY = (
    "SELECT customer.currency_code, campaign.id, campaign.name, "
    "campaign.advertising_channel_type, segments.date, "
    f"{_METRICS} FROM campaign WHERE segments.date BETWEEN '{{start}}' AND '{{end}}'"
)
AD_GROUP_QUERY = (
    "SELECT campaign.id, ad_group.id, ad_group.name, segments.date, "
    f"{_METRICS} FROM ad_group WHERE segments.date BETWEEN '{{start}}' AND '{{end}}'"
)
KEYWORD_QUERY = (
    "SELECT campaign.id, ad_group.id, ad_group_criterion.criterion_id, "
    "ad_group_criterion.keyword.text, segments.date, "
    f"{_METRICS} FROM keyword_view WHERE segments.date BETWEEN '{{start}}' AND '{{end}}'"
)


@dataclass
class _Totals:
    cost_micros: int = 0
    clicks: int = 0
    impressions: int = 0

    def add(self, row: Any) -> None:
        self.cost_micros += row.metrics.cost_micros
        self.clicks += row.metrics.clicks
        self.impressions += row.metrics.impressions

    def minus(self, other: _Totals) -> _Totals:
        return _Totals(
            self.cost_micros - other.cost_micros,
            self.clicks - other.clicks,
            self.impressions - other.impressions,
        )

    def is_zero(self) -> bool:
        return not (self.cost_micros or self.clicks or self.impressions)


class GoogleAdsSpend:
    """Pulls spend rows for one Google Ads account through the official SDK."""

    name = "google_ads"
    rows: ClassVar[Literal["spend", "sessions"]] = "spend"
    #: Auto-tagged Google Ads clicks are google / cpc, GA4's Paid Search.
    traffic: ClassVar[tuple[str, str, str] | None] = ("google", "cpc", "Paid Search")
    #: Stored gclids are resolved to campaign/keyword through click_view (``clicks.py``).
    click_kinds: ClassVar[tuple[str, ...]] = ("gclid",)
    click_days_kept: ClassVar[int] = DAYS_KEPT

    @classmethod
    def unready(cls, settings: GoogleAdsSettings) -> str | None:
        """Reporting is the Google Ads API, which needs a developer token."""
        if not settings.developer_token:
            return "spend needs platforms.google_ads.developer_token"
        return None

    def __init__(
        self,
        settings: GoogleAdsSettings,
        *,
        timeout: float = 60.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        # The uploader owns the client and the error mapping (auth, quota, outages).
        self._api = AdsApiUploader(settings, timeout=timeout, clock=clock)

    def pull(self, start: date, end: date) -> Iterator[SpendRow]:
        """Every non-empty row for days in [start, end]."""
        dates = {"start": start.isoformat(), "end": end.isoformat()}
        try:
            campaigns = self._search(CAMPAIGN_QUERY.format(**dates))
            ad_groups = self._search(AD_GROUP_QUERY.format(**dates))
            keywords = self._search(KEYWORD_QUERY.format(**dates))
        finally:
            self._api.close()  # pulls are rare; do not hold a channel open in between
        currency = campaigns[0].customer.currency_code if campaigns else None
        campaign_names = {str(r.campaign.id): r.campaign.name for r in campaigns}
        # The campaign's type sets the GA4 channel of all its rows (Display is not Search).
        channels = {
            str(r.campaign.id): channel_of(type_name(r.campaign.advertising_channel_type))
            for r in campaigns
        }
        ad_group_names = {str(r.ad_group.id): r.ad_group.name for r in ad_groups}

        def row(day: str, totals: _Totals, campaign_id: str, **more: Any) -> SpendRow:
            return SpendRow(
                platform=self.name,
                day=date.fromisoformat(day),
                campaign_id=campaign_id,
                campaign=campaign_names.get(campaign_id),
                cost=Decimal(totals.cost_micros) / MICROS,
                clicks=totals.clicks,
                impressions=totals.impressions,
                currency=currency,
                channel=channels.get(campaign_id),
                **more,
            )

        keyword_sums: dict[tuple[str, str], _Totals] = {}
        for r in keywords:
            campaign_id, ad_group_id = str(r.campaign.id), str(r.ad_group.id)
            totals = _Totals()
            totals.add(r)
            keyword_sums.setdefault((r.segments.date, ad_group_id), _Totals()).add(r)
            yield row(
                r.segments.date,
                totals,
                campaign_id,
                ad_group_id=ad_group_id,
                ad_group=ad_group_names.get(ad_group_id),
                keyword_id=str(r.ad_group_criterion.criterion_id),
                keyword=r.ad_group_criterion.keyword.text or None,
            )
        ad_group_sums: dict[tuple[str, str], _Totals] = {}
        for r in ad_groups:
            campaign_id, ad_group_id = str(r.campaign.id), str(r.ad_group.id)
            totals = _Totals()
            totals.add(r)
            ad_group_sums.setdefault((r.segments.date, campaign_id), _Totals()).add(r)
            rest = totals.minus(keyword_sums.get((r.segments.date, ad_group_id), _Totals()))
            if not rest.is_zero():
                yield row(
                    r.segments.date,
                    rest,
                    campaign_id,
                    ad_group_id=ad_group_id,
                    ad_group=ad_group_names.get(ad_group_id),
                )
        for r in campaigns:
            campaign_id = str(r.campaign.id)
            totals = _Totals()
            totals.add(r)
            rest = totals.minus(ad_group_sums.get((r.segments.date, campaign_id), _Totals()))
            if not rest.is_zero():
                yield row(r.segments.date, rest, campaign_id)

    def resolve_clicks(self, clicks: list[tuple[str, str, datetime]]) -> Iterator[ClickResolution]:
        """Campaign, ad group and keyword of each stored gclid Google still keeps."""
        try:
            yield from ClickViewResolver(self._api).resolve(clicks)
        finally:
            self._api.close()

    def _search(self, query: str) -> list[Any]:
        service = self._api.service("GoogleAdsService")

        def stream() -> list[Any]:
            rows: list[Any] = []
            for batch in service.search_stream(
                customer_id=self._api.customer_id, query=query, timeout=self._api.timeout
            ):
                rows.extend(batch.results)
            return rows

        return list(self._api.call(stream))
