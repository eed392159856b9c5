"""LinkedIn campaign spend through adAnalytics, as the sandbox serves it (Rest.li 2.0).

Seeded (account 508000001, EUR): campaign 610001 "RevOps leaders" 12.50 on Nov 1 and 7.25 on
Nov 2; campaign 610002 "CFO retargeting" 3.00 on Nov 2 and 9.99 on Nov 9 (outside the range);
another account's campaign 699999 on Nov 1. Expected rows for Nov 1-5: the three in-range days
of account 508000001, by campaign ID with LinkedIn's names, in EUR.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from connector.errors import PermanentPlatformError
from platforms.linkedin_ads.settings import LinkedInAdsSettings
from platforms.linkedin_ads.spend import LinkedInSpend
from platforms.reporting import SpendRow

ACCOUNT = "508000001"
NOV = [date(2026, 11, d) for d in range(1, 10)]


@pytest.fixture
def seeded(sandbox):
    sandbox.add_ad_account(ACCOUNT, "EUR")
    sandbox.add_ad_account("508000009", "USD")
    for day, campaign, name, cost, clicks in (
        (NOV[0], "610001", "RevOps leaders", "12.50", 5),
        (NOV[1], "610001", "RevOps leaders", "7.25", 3),
        (NOV[1], "610002", "CFO retargeting", "3.00", 1),
        (NOV[8], "610002", "CFO retargeting", "9.99", 2),
    ):
        sandbox.add_delivery(ACCOUNT, day, campaign, name, cost, clicks, clicks * 100)
    sandbox.add_delivery("508000009", NOV[0], "699999", "Other account", "50", 9, 900)
    return sandbox


def _settings(sandbox, **extra) -> LinkedInAdsSettings:
    return LinkedInAdsSettings(**{**sandbox.platform_config(), "ad_account_id": ACCOUNT, **extra})


def test_pull_returns_each_campaign_day_of_the_account_in_range(seeded) -> None:
    """Campaign IDs from the pivot URN, names from adCampaigns, cost as Decimal in EUR."""
    rows = list(LinkedInSpend(_settings(seeded)).pull(NOV[0], NOV[4]))

    def row(day, campaign_id, campaign, cost, clicks) -> SpendRow:
        return SpendRow(
            platform="linkedin_ads",
            day=day,
            campaign_id=campaign_id,
            campaign=campaign,
            cost=Decimal(cost),
            clicks=clicks,
            impressions=clicks * 100,
            currency="EUR",
        )

    assert rows == [
        row(NOV[0], "610001", "RevOps leaders", "12.50", 5),
        row(NOV[1], "610001", "RevOps leaders", "7.25", 3),
        row(NOV[1], "610002", "CFO retargeting", "3.00", 1),
    ]


def test_campaign_names_follow_the_page_tokens(seeded, monkeypatch) -> None:
    """With one campaign per page, both names still arrive (pageToken paging)."""
    monkeypatch.setattr("platforms.linkedin_ads.spend.PAGE_SIZE", 1)
    rows = list(LinkedInSpend(_settings(seeded)).pull(NOV[1], NOV[1]))
    assert {r.campaign for r in rows} == {"RevOps leaders", "CFO retargeting"}


def test_a_token_without_the_reporting_scope_is_a_permanent_error(seeded) -> None:
    """LinkedIn's 403 for a token without r_ads_reporting is not retried."""
    seeded.add_token("no-reporting", {"rw_conversions", "r_ads"})
    settings = _settings(seeded, access_token="no-reporting")
    with pytest.raises(PermanentPlatformError, match="r_ads_reporting"):
        list(LinkedInSpend(settings).pull(NOV[0], NOV[0]))


def test_without_an_ad_account_spend_is_skipped_quietly(sandbox) -> None:
    """No ad_account_id: the pull is not an error, just not set up."""
    assert LinkedInSpend.unready(LinkedInAdsSettings(**sandbox.platform_config())) == ""


def test_the_spend_pull_files_linkedin_rows_on_paid_social(seeded, make_settings) -> None:
    """Through the registry: three rows stored, on linkedin / paid_social, Paid Social."""
    from sqlalchemy import select

    from connector.runtime import Runtime
    from connector.spend import pull_spend
    from connector.storage.models import SpendDaily

    config = {**seeded.platform_config(), "ad_account_id": f"urn:li:sponsoredAccount:{ACCOUNT}"}
    runtime = Runtime.from_settings(make_settings({"platforms": {"linkedin_ads": config}}))
    try:
        assert pull_spend(runtime, NOV[0], NOV[4])["linkedin_ads"]["rows"] == 3
        with runtime.sessions() as s:
            stored = s.execute(
                select(
                    SpendDaily.campaign, SpendDaily.source, SpendDaily.medium, SpendDaily.channel
                )
            ).all()
    finally:
        runtime.close()
    assert sorted(stored) == [
        ("CFO retargeting", "linkedin", "paid_social", "Paid Social"),
        ("RevOps leaders", "linkedin", "paid_social", "Paid Social"),
        ("RevOps leaders", "linkedin", "paid_social", "Paid Social"),
    ]
