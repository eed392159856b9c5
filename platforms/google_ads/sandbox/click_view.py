"""GAQL ``click_view`` in the Google Ads sandbox: one row per gclid, with Google's limits.

Google answers ``FROM click_view`` only with a filter limiting the results to one day
(ClickViewError ``EXPECTED_FILTER_ON_A_SINGLE_DAY``) and only for dates back to 90 days before
the request (``DATE_TOO_OLD``); both are refused here the same way. Rows carry the click's
customer, campaign (with its ``advertising_channel_type``), ad group, and for Search clicks
the keyword's resource name and ``keyword_info`` (text, match type).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from google.ads.googleads.v26.enums.types.advertising_channel_type import (
    AdvertisingChannelTypeEnum,
)
from google.ads.googleads.v26.enums.types.keyword_match_type import KeywordMatchTypeEnum

RESOURCE = "click_view"
#: Resources whose fields may be selected with ``FROM click_view`` (Google's field reference:
#: customer is attributed, campaign and ad_group segment).
SELECTABLE = {"click_view", "customer", "campaign", "ad_group", "segments"}
FIELDS = {
    "click_view.gclid",
    "click_view.resource_name",
    "click_view.keyword",
    "click_view.keyword_info.text",
    "click_view.keyword_info.match_type",
    "campaign.advertising_channel_type",
}
DAYS_KEPT = timedelta(days=90)
ENUMS: dict[str, Any] = {
    "campaign.advertising_channel_type": AdvertisingChannelTypeEnum.AdvertisingChannelType,
    "click_view.keyword_info.match_type": KeywordMatchTypeEnum.KeywordMatchType,
}


@dataclass(frozen=True)
class ClickSource:
    """Where a seeded click came from: campaign, its type, ad group and keyword."""

    campaign_id: str
    campaign: str
    channel_type: str = "SEARCH"
    ad_group_id: str | None = None
    ad_group: str | None = None
    keyword_id: str | None = None
    keyword: str | None = None
    match_type: str | None = None

    def __post_init__(self) -> None:
        AdvertisingChannelTypeEnum.AdvertisingChannelType[self.channel_type]  # KeyError if bad
        if self.match_type is not None:
            KeywordMatchTypeEnum.KeywordMatchType[self.match_type]


def single_day(conditions: list[tuple[str, str, Any]]) -> str | None:
    """The one day ``segments.date = 'YYYY-MM-DD'`` limits the query to, or None.

    Google's examples filter click_view with ``=``; whether it also takes a one-day BETWEEN or
    a ``>=``/``<=`` pair is not published, so only ``=`` is accepted (the stricter reading).
    """
    days = {operand for field_name, op, operand in conditions if field_name == "segments.date"}
    ops = {op for field_name, op, _ in conditions if field_name == "segments.date"}
    return next(iter(days)) if ops == {"="} and len(days) == 1 else None


def refusal(conditions: list[tuple[str, str, Any]], now: datetime) -> tuple[str, str] | None:
    """The ClickViewError Google answers for this WHERE clause at ``now``, if any."""
    day = single_day(conditions)
    if day is None:
        return (
            "EXPECTED_FILTER_ON_A_SINGLE_DAY",
            "Queries including ClickView must have a filter limiting the results to one day.",
        )
    if date.fromisoformat(day) < (now.astimezone(UTC) - DAYS_KEPT).date():
        return ("DATE_TOO_OLD", "The requested date is too old.")
    return None


def values(customer: Any, gclid: str, when: datetime, source: ClickSource) -> dict[str, Any]:
    """The GAQL field values of one click's ``click_view`` row."""
    cid = customer.customer_id
    day = when.astimezone(UTC).date().isoformat()
    found: dict[str, Any] = {
        "customer.id": int(cid),
        "customer.resource_name": f"customers/{cid}",
        "customer.currency_code": customer.currency,
        "customer.descriptive_name": customer.name,
        "segments.date": day,
        "click_view.gclid": gclid,
        "click_view.resource_name": f"customers/{cid}/clickViews/{day}~{gclid}",
        "campaign.id": int(source.campaign_id),
        "campaign.name": source.campaign,
        "campaign.resource_name": f"customers/{cid}/campaigns/{source.campaign_id}",
        "campaign.advertising_channel_type": source.channel_type,
    }
    if source.ad_group_id is not None:
        found |= {
            "ad_group.id": int(source.ad_group_id),
            "ad_group.name": source.ad_group,
            "ad_group.resource_name": f"customers/{cid}/adGroups/{source.ad_group_id}",
        }
    # Google names a keyword only when the click came from the Search channel.
    if source.keyword_id is not None and source.channel_type == "SEARCH":
        pair = f"{source.ad_group_id}~{source.keyword_id}"
        found |= {
            "click_view.keyword": f"customers/{cid}/adGroupCriteria/{pair}",
            "click_view.keyword_info.text": source.keyword,
            "click_view.keyword_info.match_type": source.match_type,
        }
    return found


def wire_value(path: str, value: Any) -> Any:
    """Enum fields' names as the SDK's enum members; anything else unchanged."""
    enum = ENUMS.get(path)
    return enum[value] if enum is not None and isinstance(value, str) else value
