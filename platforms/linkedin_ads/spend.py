"""LinkedIn campaign spend per day, from the Marketing API's ``adAnalytics`` finder.

One ``q=analytics`` request with ``pivot=CAMPAIGN`` and ``timeGranularity=DAILY`` over the
range returns an element per campaign and day with delivery (LinkedIn does not page this
finder; it caps an answer at 15,000 elements, far above a lookback window of campaigns).
Campaign names come from the account's ``adCampaigns`` (``q=search``, paged by
``pageToken``) and the currency of ``costInLocalCurrency`` from the ad account. Rest.li 2.0
query syntax (``List(...)``, ``(start:(...))``) is sent unencoded, with the URNs inside it
percent-encoded, as LinkedIn requires. LinkedIn has no ad groups or keywords at this level.

``url_id_params`` lets the pull put a touch whose landing URL carries the campaign ID from
LinkedIn's dynamic UTM parameters (``url_parameters.RECOMMENDED``) on the campaign's rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar, Literal
from urllib.parse import quote

from connector.errors import ConfigError, request_error
from platforms.linkedin_ads.client import USER_AGENT, ConversionsClient, LinkedInFailure, classify
from platforms.linkedin_ads.settings import LinkedInAdsSettings
from platforms.linkedin_ads.url_parameters import ID_PARAMS
from platforms.reporting import SpendRow

ACCOUNT_URN = "urn:li:sponsoredAccount:"
CAMPAIGN_URN = "urn:li:sponsoredCampaign:"
FIELDS = "costInLocalCurrency,clicks,impressions,dateRange,pivotValues"
PAGE_SIZE = 100


def account_id(value: str) -> str:
    """The numeric account ID from an ID or ``urn:li:sponsoredAccount:<id>``."""
    return str(value).strip().removeprefix(ACCOUNT_URN)


def _rest_date(day: date) -> str:
    return f"(year:{day.year},month:{day.month},day:{day.day})"


class LinkedInSpend:
    """Daily spend, clicks and impressions per campaign of one LinkedIn ad account."""

    name = "linkedin_ads"
    rows: ClassVar[Literal["spend", "sessions"]] = "spend"
    traffic: ClassVar[tuple[str, str, str] | None] = ("linkedin", "paid_social", "Paid Social")
    url_id_params: ClassVar[tuple[str, ...]] = ID_PARAMS

    @classmethod
    def unready(cls, settings: LinkedInAdsSettings) -> str | None:
        """Spend is optional: without an ad account, conversions still flow."""
        return None if settings.ad_account_id else ""

    def __init__(self, settings: LinkedInAdsSettings, *, timeout: float = 60.0) -> None:
        if not settings.ad_account_id:
            raise ConfigError("needed to read spend", path="platforms.linkedin_ads.ad_account_id")
        self.settings = settings
        self.account = account_id(settings.ad_account_id)
        self._client = ConversionsClient(settings, timeout=timeout)

    def pull(self, start: date, end: date) -> Iterator[SpendRow]:
        """Every campaign-day with delivery in [start, end]."""
        try:
            currency = self._get(f"/adAccounts/{self.account}").get("currency")
            names = self._campaign_names()
            query = (
                "q=analytics&pivot=CAMPAIGN&timeGranularity=DAILY"
                f"&dateRange=(start:{_rest_date(start)},end:{_rest_date(end)})"
                f"&accounts=List({quote(ACCOUNT_URN + self.account, safe='')})&fields={FIELDS}"
            )
            elements = self._get(f"/adAnalytics?{query}").get("elements", [])
        except LinkedInFailure as failure:
            raise request_error(failure, self.name) from None
        finally:
            self._client.close()
        for element in elements:
            yield _spend_row(element, names, currency)

    def _campaign_names(self) -> dict[str, str]:
        names: dict[str, str] = {}
        token = ""
        while True:
            page = f"&pageToken={quote(token)}" if token else ""
            body = self._get(
                f"/adAccounts/{self.account}/adCampaigns?q=search&pageSize={PAGE_SIZE}{page}"
            )
            for campaign in body.get("elements", []):
                names[str(campaign["id"])] = campaign.get("name")
            token = (body.get("metadata") or {}).get("nextPageToken") or ""
            if not token:
                return names

    def _get(self, path: str) -> dict[str, Any]:
        """One GET with the token (renewed once on 401 if the settings allow)."""
        client = self._client
        token = client._token or client.refresh()
        response = self._request(path, token)
        if response.status_code == 401 and self.settings.can_refresh:
            response = self._request(path, client.refresh(stale=token))
        if response.status_code >= 300:
            raise classify(response)
        return response.json()

    def _request(self, path: str, token: str) -> Any:
        return self._client._call(
            "get",
            self.settings.api_url.rstrip("/") + path,
            what="api_url",
            headers={
                "Authorization": f"Bearer {token}",
                "LinkedIn-Version": self.settings.api_version,
                "X-Restli-Protocol-Version": "2.0.0",
                "User-Agent": USER_AGENT,
            },
        )


def _spend_row(element: dict[str, Any], names: dict[str, str], currency: str | None) -> SpendRow:
    """LinkedIn sends cost as a string; money stays Decimal."""
    start = element["dateRange"]["start"]
    campaign_id = str(element["pivotValues"][0]).removeprefix(CAMPAIGN_URN)
    return SpendRow(
        platform="linkedin_ads",
        day=date(start["year"], start["month"], start["day"]),
        campaign_id=campaign_id,
        campaign=names.get(campaign_id),
        cost=Decimal(str(element.get("costInLocalCurrency", "0"))),
        clicks=int(element.get("clicks", 0) or 0),
        impressions=int(element.get("impressions", 0) or 0),
        currency=currency,
    )
