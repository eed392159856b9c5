"""Which campaign, ad group and keyword each stored gclid came from (GAQL ``click_view``).

Google keeps click-level data for 90 days and answers ``click_view`` only for a single day per
query (``WHERE segments.date = 'YYYY-MM-DD'``; ClickViewError EXPECTED_FILTER_ON_A_SINGLE_DAY /
DATE_TOO_OLD otherwise). So we ask once per day that may hold one of our clicks and keep the
rows whose gclid we stored. The day is the account's day, and we only know the click's UTC
time: we ask the UTC day and the days either side, so any account time zone is covered, and
consecutive click days share their queries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from platforms.google_ads.ads_api import AdsApiUploader
from platforms.google_ads.campaign_types import channel_of, type_name
from platforms.reporting import ClickResolution

#: Google answers click_view for dates back to 90 days before the request; one day of margin
#: for the account's time zone keeps us from asking a day Google already refuses.
DAYS_KEPT = 90
CLICK_VIEW_QUERY = (
    "SELECT click_view.gclid, customer.id, campaign.id, campaign.name, "
    "campaign.advertising_channel_type, ad_group.id, ad_group.name, click_view.keyword, "
    "click_view.keyword_info.text, click_view.keyword_info.match_type "
    "FROM click_view WHERE segments.date = '{day}'"
)


def days_to_ask(click_times: list[datetime], today: date) -> list[date]:
    """Every account day that may hold one of the clicks, within what Google still answers."""
    oldest = today - timedelta(days=DAYS_KEPT - 1)
    days: set[date] = set()
    for seen in click_times:
        utc_day = seen.astimezone(UTC).date()
        days.update(utc_day + timedelta(days=d) for d in (-1, 0, 1))
    return sorted(d for d in days if oldest <= d <= today)


def keyword_id(resource_name: str) -> str:
    """The criterion ID from ``customers/{cid}/adGroupCriteria/{ad_group_id}~{criterion_id}``."""
    _, sep, criterion = resource_name.rpartition("~")
    return criterion if sep else ""


class ClickViewResolver:
    """Resolves gclids for one Google Ads account through ``GoogleAdsService.SearchStream``."""

    def __init__(self, api: AdsApiUploader) -> None:
        self._api = api
        self._clock: Callable[[], datetime] = api.clock

    def resolve(self, clicks: list[tuple[str, str, datetime]]) -> Iterator[ClickResolution]:
        """Resolutions of the gclids in ``clicks`` (kind, value, first seen) Google knows."""
        wanted = {value for kind, value, _ in clicks if kind == "gclid"}
        times = [seen for kind, _, seen in clicks if kind == "gclid"]
        for day in days_to_ask(times, self._clock().astimezone(UTC).date()):
            for row in self._search(CLICK_VIEW_QUERY.format(day=day.isoformat())):
                gclid = row.click_view.gclid
                if gclid not in wanted:
                    continue
                wanted.discard(gclid)  # a click has one day; the neighbour days do not repeat it
                yield self._resolution(row)

    @staticmethod
    def _resolution(row: Any) -> ClickResolution:
        campaign_type = type_name(row.campaign.advertising_channel_type)
        info = row.click_view.keyword_info
        return ClickResolution(
            kind="gclid",
            value=row.click_view.gclid,
            customer_id=str(row.customer.id),
            campaign_id=str(row.campaign.id),
            campaign=row.campaign.name or None,
            campaign_type=campaign_type,
            channel=channel_of(campaign_type),
            ad_group_id=str(row.ad_group.id) if row.ad_group.id else "",
            ad_group=row.ad_group.name or None,
            keyword_id=keyword_id(row.click_view.keyword),
            keyword=info.text or None,
            match_type=type_name(info.match_type),
        )

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
