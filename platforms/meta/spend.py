"""Meta ad spend per day, pulled from the Marketing API insights edge of the ad account.

Rows come at ``level=ad`` with ``time_increment=1`` (one row per ad and day) and are mapped onto
the shared ``SpendRow`` the way Google's hierarchy reads:

* campaign -> ``campaign_id`` / ``campaign``
* ad set   -> ``ad_group_id`` / ``ad_group`` (both are the targeting-and-budget level)
* ad       -> ``ad_id`` / ``ad`` (the finest unit Meta reports; it has no keywords, so
  the keyword report files Meta spend under "(not set)", like its revenue)

``url_id_params`` lets the spend pull put a touch whose landing URL carries these IDs
(``url_parameters.RECOMMENDED``) on the same campaign and ad rows.

Paging follows the SDK's ``Cursor`` (``paging.cursors.after`` while ``paging.next`` exists).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import ClassVar, Literal

import requests
from facebook_business.adobjects.adaccount import AdAccount
from facebook_business.adobjects.adsinsights import AdsInsights
from facebook_business.exceptions import FacebookRequestError

from connector.errors import ConfigError, RetryablePlatformError, request_error
from platforms.meta.client import (
    DEFAULT_TRANSIENT_WAIT,
    ad_account_node,
    build_api,
    classify_error,
)
from platforms.meta.settings import MetaSettings
from platforms.meta.url_parameters import ID_PARAMS
from platforms.reporting import SpendRow

FIELDS = [
    AdsInsights.Field.date_start,
    AdsInsights.Field.campaign_id,
    AdsInsights.Field.campaign_name,
    AdsInsights.Field.adset_id,
    AdsInsights.Field.adset_name,
    AdsInsights.Field.ad_id,
    AdsInsights.Field.ad_name,
    AdsInsights.Field.spend,
    AdsInsights.Field.clicks,
    AdsInsights.Field.impressions,
    AdsInsights.Field.account_currency,
]
PAGE_SIZE = 500


class MetaSpend:
    """Daily spend, clicks and impressions per ad from one Meta ad account."""

    name = "meta"
    rows: ClassVar[Literal["spend", "sessions"]] = "spend"
    traffic: ClassVar[tuple[str, str, str] | None] = ("facebook", "paid_social", "Paid Social")
    url_id_params: ClassVar[tuple[str, ...]] = ID_PARAMS

    @classmethod
    def unready(cls, settings: MetaSettings) -> str | None:
        """Spend is optional for Meta: without an ad account, conversions still flow."""
        return None if settings.ad_account_id else ""

    def __init__(
        self, settings: MetaSettings, *, timeout: float = 60.0, page_size: int = PAGE_SIZE
    ) -> None:
        if not settings.ad_account_id:
            raise ConfigError("needed to read spend", path="platforms.meta.ad_account_id")
        self.settings = settings
        self.timeout = timeout
        self.page_size = page_size

    def pull(self, start: date, end: date) -> Iterator[SpendRow]:
        """Every ad-day with delivery in [start, end]."""
        api = build_api(self.settings, timeout=self.timeout)
        account = AdAccount(ad_account_node(str(self.settings.ad_account_id)), api=api)
        params = {
            "level": AdsInsights.Level.ad,
            "time_range": {"since": start.isoformat(), "until": end.isoformat()},
            "time_increment": "1",
            "limit": self.page_size,
        }
        try:
            for row in account.get_insights(fields=FIELDS, params=params):
                yield _spend_row(row)
        except FacebookRequestError as error:
            failure = classify_error(error)
            raise request_error(failure, self.name) from None
        except requests.RequestException as error:
            raise RetryablePlatformError(
                f"no answer from Meta ({type(error).__name__})",
                platform=self.name,
                code="connection",
                retry_after=DEFAULT_TRANSIENT_WAIT,
            ) from None
        finally:
            api._session.requests.close()


def _spend_row(row: AdsInsights) -> SpendRow:
    """Graph reports every metric as a string; money stays Decimal."""
    return SpendRow(
        platform="meta",
        day=date.fromisoformat(row["date_start"]),
        campaign_id=str(row.get("campaign_id", "")),
        campaign=row.get("campaign_name"),
        cost=Decimal(str(row.get("spend", "0"))),
        clicks=int(row.get("clicks", 0) or 0),
        impressions=int(row.get("impressions", 0) or 0),
        currency=row.get("account_currency"),
        ad_group_id=str(row.get("adset_id", "")),
        ad_group=row.get("adset_name"),
        ad_id=str(row.get("ad_id", "")),
        ad=row.get("ad_name"),
    )
