"""MetaSpend pulls insights through the SDK's Cursor paging from the Graph sandbox."""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal

import pytest
from facebook_business.adobjects.adaccount import AdAccount

from connector.config.models import MetaSettings
from connector.errors import PermanentPlatformError, RetryablePlatformError
from platforms.meta.sandbox import MetaSandbox
from platforms.meta.spend import MetaSpend
from platforms.reporting import SpendRow
from platforms.sandbox_kit import Fault, FaultPlan

START = date(2026, 11, 1)


def seed(sandbox: MetaSandbox, days: int = 6) -> list[tuple]:
    """Two campaigns x two ads x ``days`` days, plus rows outside the range; returns the keys."""
    expected = []
    for offset in range(-2, days + 2):
        day = START + timedelta(days=offset)
        for campaign in ("c1", "c2"):
            for ad in ("a", "b"):
                spend = Decimal(f"{offset + 3}.{len(campaign + ad)}7")
                sandbox.add_insight(
                    day,
                    campaign,
                    f"Campaign {campaign}",
                    spend,
                    clicks=offset + 5,
                    impressions=100 * (offset + 5),
                    adset_id=f"{campaign}-set",
                    adset_name=f"Set {campaign}",
                    ad_id=f"{campaign}-{ad}",
                    ad_name=f"Ad {ad}",
                )
                if 0 <= offset < days:
                    expected.append((day, campaign, f"{campaign}-{ad}", spend))
    return expected


def test_paging_returns_exactly_the_seeded_rows(sandbox, meta_settings):
    """Every ad-day in range comes back once, across pages, and nothing outside the range."""
    expected = seed(sandbox)
    rows = list(MetaSpend(meta_settings, page_size=5).pull(START, START + timedelta(days=5)))
    assert sorted((r.day, r.campaign_id, r.ad_id, r.cost) for r in rows) == sorted(expected)
    assert sandbox.requests == math.ceil(len(expected) / 5)


def test_row_mapping(sandbox, meta_settings):
    """Campaign -> campaign, ad set -> ad group, ad -> ad (no keyword); Decimal cost; currency."""
    sandbox.add_ad_account(sandbox.ad_account_id, sandbox.access_token, "EUR")
    sandbox.add_insight(
        START,
        "c9",
        "Spring",
        "12.34",
        7,
        900,
        adset_id="s9",
        adset_name="Set 9",
        ad_id="ad9",
        ad_name="Video 9",
    )
    settings = meta_settings.model_copy(update={"ad_account_id": f"act_{sandbox.ad_account_id}"})
    assert list(MetaSpend(settings).pull(START, START)) == [
        SpendRow(
            platform="meta",
            day=START,
            campaign_id="c9",
            campaign="Spring",
            cost=Decimal("12.34"),
            clicks=7,
            impressions=900,
            currency="EUR",
            ad_group_id="s9",
            ad_group="Set 9",
            ad_id="ad9",
            ad="Video 9",
        )
    ]


def test_campaign_level_sums_ads(sandbox, graph_api):
    """The sandbox's campaign level adds up its ads per day, as Graph does."""
    seed(sandbox, days=1)
    account = AdAccount(f"act_{sandbox.ad_account_id}", api=graph_api)
    rows = account.get_insights(
        fields=["campaign_id", "spend", "clicks", "date_start"],
        params={
            "level": "campaign",
            "time_range": {"since": START.isoformat(), "until": START.isoformat()},
            "time_increment": "1",
        },
    )
    assert sorted((r["campaign_id"], r["spend"], r["clicks"]) for r in rows) == [
        ("c1", "6.74", "10"),
        ("c2", "6.74", "10"),
    ]


def test_bad_token_is_permanent(sandbox):
    """A wrong token on the ad account raises PermanentPlatformError (code 190)."""
    settings = MetaSettings(**{**sandbox.platform_config(), "access_token": "EAAB-nope"})
    with pytest.raises(PermanentPlatformError) as info:
        list(MetaSpend(settings).pull(START, START))
    assert info.value.code == "190"


def test_rate_limit_on_second_page_is_retryable(clock):
    """A throttle mid-paging raises RetryablePlatformError instead of returning half the data."""
    with MetaSandbox(FaultPlan(script={2: Fault.RATE_LIMIT}), clock=lambda: clock["now"]) as sb:
        seed(sb, days=2)
        with pytest.raises(RetryablePlatformError) as info:
            list(MetaSpend(MetaSettings(**sb.platform_config()), page_size=3).pull(START, START))
        assert info.value.retry_after == 60
