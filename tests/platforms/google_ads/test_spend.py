"""GoogleAdsSpend pulls daily spend rows over SearchStream that add up to what was spent."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest

from connector.config.models import GoogleAdsSettings
from connector.errors import PermanentPlatformError
from platforms.google_ads.sandbox.ads import GoogleAdsApiServer
from platforms.google_ads.spend import GoogleAdsSpend
from platforms.reporting import SpendRow
from tests.platforms.google_ads.ads_fixtures import ads_server, api_settings, clock, faults

__all__ = ["ads_server", "api_settings", "clock", "faults"]

START = date(2026, 11, 1)

#: (day offset, campaign, ad group, keyword, cost, clicks, impressions)
SEEDED = [
    (0, ("11", "Brand"), ("21", "Shoes"), ("31", "red shoes"), "10.123456", 5, 100),
    (0, ("11", "Brand"), ("21", "Shoes"), ("32", "blue shoes"), "4.50", 2, 40),
    (0, ("11", "Brand"), ("21", "Shoes"), None, "1.10", 1, 10),  # dynamic ads in the group
    (1, ("11", "Brand"), ("22", "Boots"), ("33", "boots"), "7.00", 3, 70),
    (1, ("12", "PMax"), None, None, "20.00", 8, 900),  # no ad groups at all
    (2, ("12", "PMax"), None, None, "3.33", 1, 50),
    (3, ("11", "Brand"), ("21", "Shoes"), ("31", "red shoes"), "99.00", 9, 99),  # out of range
]


@pytest.fixture(autouse=True)
def seeded(ads_server: GoogleAdsApiServer) -> None:
    """Keyword, ad-group-only and campaign-only spend over four days."""
    for offset, (cid, cname), group, keyword, cost, clicks, impressions in SEEDED:
        ads_server.add_spend(
            START + timedelta(offset),
            campaign_id=cid,
            campaign=cname,
            cost=cost,
            clicks=clicks,
            impressions=impressions,
            ad_group_id=group[0] if group else None,
            ad_group=group[1] if group else None,
            keyword_id=keyword[0] if keyword else None,
            keyword=keyword[1] if keyword else None,
        )


def test_rows_add_up_exactly_to_the_seeded_spend(api_settings: GoogleAdsSettings) -> None:
    """Per day and campaign, cost, clicks and impressions equal the seeded sums exactly."""
    rows = list(GoogleAdsSpend(api_settings).pull(START, START + timedelta(days=2)))
    pulled: dict[tuple[date, str], list[Decimal | int]] = defaultdict(lambda: [Decimal(0), 0, 0])
    for row in rows:
        totals = pulled[(row.day, row.campaign_id)]
        totals[0] += row.cost
        totals[1] += row.clicks
        totals[2] += row.impressions
    expected: dict[tuple[date, str], list[Decimal | int]] = defaultdict(lambda: [Decimal(0), 0, 0])
    for offset, (cid, _), _, _, cost, clicks, impressions in SEEDED[:-1]:
        totals = expected[(START + timedelta(offset), cid)]
        totals[0] += Decimal(cost)
        totals[1] += clicks
        totals[2] += impressions
    assert dict(pulled) == dict(expected)
    assert sum((row.cost for row in rows), Decimal(0)) == Decimal("46.053456")


def test_rows_carry_ids_names_and_currency(api_settings: GoogleAdsSettings) -> None:
    """Keyword rows name campaign, ad group and keyword; remainders have no finer IDs."""
    rows = list(GoogleAdsSpend(api_settings).pull(START, START))
    assert set(rows) == {
        SpendRow(
            platform="google_ads",
            day=START,
            campaign_id="11",
            campaign="Brand",
            cost=Decimal("10.123456"),
            clicks=5,
            impressions=100,
            currency="EUR",
            channel="Paid Search",
            ad_group_id="21",
            ad_group="Shoes",
            keyword_id="31",
            keyword="red shoes",
        ),
        SpendRow(
            platform="google_ads",
            day=START,
            campaign_id="11",
            campaign="Brand",
            cost=Decimal("4.5"),
            clicks=2,
            impressions=40,
            currency="EUR",
            channel="Paid Search",
            ad_group_id="21",
            ad_group="Shoes",
            keyword_id="32",
            keyword="blue shoes",
        ),
        SpendRow(
            platform="google_ads",
            day=START,
            campaign_id="11",
            campaign="Brand",
            cost=Decimal("1.1"),
            clicks=1,
            impressions=10,
            currency="EUR",
            channel="Paid Search",
            ad_group_id="21",
            ad_group="Shoes",
        ),
    }


def test_campaign_only_spend_is_its_own_row(api_settings: GoogleAdsSettings) -> None:
    """Spend outside any ad group (Performance Max) is a campaign-level row."""
    rows = list(GoogleAdsSpend(api_settings).pull(START + timedelta(2), START + timedelta(2)))
    assert [(r.campaign_id, r.campaign, r.ad_group_id, r.cost) for r in rows] == [
        ("12", "PMax", "", Decimal("3.33"))
    ]


def test_campaign_type_sets_the_rows_ga4_channel(
    api_settings: GoogleAdsSettings, ads_server: GoogleAdsApiServer
) -> None:
    """GA4 files Display campaigns as "Display", Performance Max as "Cross-network" etc."""
    day = date(2026, 10, 1)
    kinds = [("51", "DISPLAY"), ("52", "VIDEO"), ("53", "SHOPPING"), ("54", "DEMAND_GEN")]
    kinds += [("56", "SMART"), ("57", "HOTEL")]
    for cid, kind in kinds:
        ads_server.add_spend(day, campaign_id=cid, campaign=kind, cost="1", channel_type=kind)
    ads_server.add_spend(
        day, campaign_id="55", campaign="PMax", cost="1", channel_type=("PERFORMANCE_MAX")
    )
    rows = GoogleAdsSpend(api_settings).pull(day, day)
    assert {r.campaign_id: r.channel for r in rows} == {
        "51": "Display",
        "52": "Paid Video",
        "53": "Paid Shopping",
        "54": "Cross-network",
        "55": "Cross-network",
        "56": "Cross-network",
        "57": "Paid Search",  # GA4 names no channel for it: a Google Ads click's default
    }


def test_empty_range_yields_nothing(api_settings: GoogleAdsSettings) -> None:
    """Days without spend give no rows (and no currency guess)."""
    assert list(GoogleAdsSpend(api_settings).pull(date(2026, 1, 1), date(2026, 1, 31))) == []


def test_auth_failure_is_permanent(api_settings: GoogleAdsSettings) -> None:
    """A rejected developer token stops the pull with an actionable PermanentPlatformError."""
    raw = api_settings.model_dump()
    raw["developer_token"] = "wrong"
    with pytest.raises(PermanentPlatformError) as raised:
        list(GoogleAdsSpend(GoogleAdsSettings.model_validate(raw)).pull(START, START))
    assert "developer_token" in str(raised.value)
