"""The sandbox's reporting resources: ``adAnalytics``, an ad account and its ``adCampaigns``.

As LinkedIn serves them (Rest.li 2.0, ``LinkedIn-Version``):

* ``GET /rest/adAccounts/{id}``: the account, with its ``currency``; scope ``r_ads``;
* ``GET /rest/adAccounts/{id}/adCampaigns?q=search``: its campaigns (``id``, ``name``), paged
  by ``pageSize`` / ``pageToken`` with ``metadata.nextPageToken``; scope ``r_ads``;
* ``GET /rest/adAnalytics?q=analytics&pivot=CAMPAIGN&timeGranularity=DAILY&dateRange=(start:
  (year:Y,month:M,day:D),end:(...))&accounts=List(urn%3Ali%3AsponsoredAccount%3A{id})&fields=``:
  one element per campaign and day with delivery, ``costInLocalCurrency`` as a string,
  ``pivotValues`` the campaign URN, ``dateRange``; scope ``r_ads_reporting``. A field outside
  LinkedIn's metrics, a missing ``dateRange`` or ``fields`` is a 400, as at LinkedIn.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from werkzeug.wrappers import Request

ACCOUNT_URN = "urn:li:sponsoredAccount:"
CAMPAIGN_URN = "urn:li:sponsoredCampaign:"
FIELDS = frozenset(
    {"costInLocalCurrency", "costInUsd", "impressions", "clicks", "dateRange", "pivotValues"}
)
DATE_RANGE = re.compile(
    r"^\(start:\(year:(\d{4}),month:(\d{1,2}),day:(\d{1,2})\)"
    r"(?:,end:\(year:(\d{4}),month:(\d{1,2}),day:(\d{1,2})\))?\)$"
)
ACCOUNTS = re.compile(r"^List\((.+)\)$")
ACCOUNT_PATH = re.compile(r"^/rest/adAccounts/(\d+)(/adCampaigns)?$")


@dataclass(frozen=True)
class Delivery:
    """One campaign-day seeded into the sandbox."""

    account_id: str
    day: date
    campaign_id: str
    cost: Decimal
    clicks: int
    impressions: int


def _day(groups: tuple[str | None, ...]) -> date:
    year, month, day = (int(g or 0) for g in groups)
    return date(year, month, day)


class Reporting:
    """The three reporting resources over the sandbox's seeded accounts, campaigns, delivery."""

    def __init__(self, error: type[Exception]) -> None:
        self._error = error
        self.accounts: dict[str, str] = {}
        self.campaigns: dict[str, tuple[str, str]] = {}  # id -> (account, name)
        self.delivery: list[Delivery] = []

    def reset(self) -> None:
        """Forget every seeded account, campaign and day."""
        self.accounts.clear()
        self.campaigns.clear()
        self.delivery.clear()

    def handles(self, path: str) -> bool:
        """Whether ``path`` is one of these resources."""
        return path == "/rest/adAnalytics" or bool(ACCOUNT_PATH.match(path))

    def scope(self, path: str) -> str:
        """The OAuth scope the resource needs."""
        return "r_ads_reporting" if path == "/rest/adAnalytics" else "r_ads"

    def answer(self, request: Request) -> dict[str, Any]:
        """The resource's JSON body; raises the sandbox's Rest.li error on a bad request."""
        if request.method != "GET":
            raise self._error(405, f"{request.method} is not supported on {request.path}")
        if request.path == "/rest/adAnalytics":
            return self._analytics(request.args)
        match = ACCOUNT_PATH.match(request.path)
        assert match is not None
        account = match.group(1)
        if account not in self.accounts:
            raise self._error(404, f"adAccount {account} does not exist", code="NOT_FOUND")
        if not match.group(2):
            return {"id": int(account), "currency": self.accounts[account], "status": "ACTIVE"}
        return self._campaigns(account, request.args)

    def _campaigns(self, account: str, args: Any) -> dict[str, Any]:
        if args.get("q") != "search":
            raise self._error(400, "adCampaigns needs the finder q=search", code="QUERY_MISSING")
        size = int(args.get("pageSize") or 100)
        start = int(args.get("pageToken") or 0)
        listed = sorted(cid for cid, (owner, _) in self.campaigns.items() if owner == account)
        page = listed[start : start + size]
        body: dict[str, Any] = {
            "elements": [
                {"id": int(cid), "name": self.campaigns[cid][1], "account": ACCOUNT_URN + account}
                for cid in page
            ],
            "metadata": {},
        }
        if start + size < len(listed):
            body["metadata"]["nextPageToken"] = str(start + size)
        return body

    def _analytics(self, args: Any) -> dict[str, Any]:
        if args.get("q") != "analytics" or args.get("pivot") != "CAMPAIGN":
            raise self._error(400, "this sandbox serves q=analytics&pivot=CAMPAIGN only")
        if args.get("timeGranularity") != "DAILY":
            raise self._error(400, "this sandbox serves timeGranularity=DAILY only")
        fields = [f for f in (args.get("fields") or "").split(",") if f]
        if not fields or (unknown := [f for f in fields if f not in FIELDS]):
            bad = unknown[0] if fields else "fields"
            raise self._error(400, f"Invalid or missing projection field: {bad}")
        match = DATE_RANGE.match(args.get("dateRange") or "")
        if match is None:
            raise self._error(400, "dateRange must be (start:(year:,month:,day:),end:(...))")
        since = _day(match.groups()[:3])
        until = _day(match.groups()[3:]) if match.group(4) else date.max
        accounts = ACCOUNTS.match(args.get("accounts") or "")
        if accounts is None:
            raise self._error(400, "accounts must be List(urn:li:sponsoredAccount:<id>)")
        wanted = {urn.removeprefix(ACCOUNT_URN) for urn in accounts.group(1).split(",")}
        elements = []
        for item in sorted(self.delivery, key=lambda d: (d.day, d.campaign_id)):
            if item.account_id not in wanted or not since <= item.day <= until:
                continue
            day = {"year": item.day.year, "month": item.day.month, "day": item.day.day}
            element = {
                "costInLocalCurrency": str(item.cost),
                "clicks": item.clicks,
                "impressions": item.impressions,
                "dateRange": {"start": day, "end": day},
                "pivotValues": [CAMPAIGN_URN + item.campaign_id],
            }
            elements.append({k: v for k, v in element.items() if k in fields})
        return {"elements": elements, "paging": {"start": 0, "count": 10, "links": []}}
