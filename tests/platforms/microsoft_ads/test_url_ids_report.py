"""Microsoft and LinkedIn clicks carrying their IDs (no UTM campaign name) meet their spend by ID.

Both sandboxes run; ``pull_spend`` pulls Microsoft's reports through the msads SDK and
LinkedIn's adAnalytics, then reads the IDs the platforms' URL parameters put in the landing
URLs (``platforms/*/url_parameters.py``). Hand-computed world (day D = five days ago, USD, one
touch per deal, so every model gives each deal's whole amount to its touch):

Microsoft spend on D: Search campaign 7001 "MS Brand" / ad group 7101 "Exact" / keywords 7201
"closedloop" 40 and 7202 "crm attribution" 60; Audience campaign 7002 "MS Lookalikes" 25.
LinkedIn spend on D: campaign 610001 "RevOps leaders" 80, 610002 "CFO retargeting" 20.

- t1: bing / cpc, utm_id=7001, utm_content=7101, utm_term=7201 (the keyword); D1 1,000.
- t2: bing / cpc, only utm_id=7002 (the Audience campaign); D2 300.
- t3: linkedin / paid_social, utm_id=610001, utm_term=5550001 (a campaign group: no spend row),
  utm_content=7770001 (a creative); D3 500.
- t4: linkedin / paid_social, utm_id=610002; D4 100.
- t5: bing / cpc, utm_id=999 (no one spent on it); D5 50: unresolved.

Expected by campaign: MS Brand 1,000 / 100 (ROI 9), MS Lookalikes 300 / 25 (ROI 11), RevOps
leaders 500 / 80 (ROI 5.25), CFO retargeting 100 / 20 (ROI 4), "(not set)" 50 / 0 (t5). By
keyword: closedloop 1,000 / 40 (ROI 24), crm attribution 0 / 60 (ROI -1), "(not set)"
300 + 500 + 100 + 50 = 950 / 25 + 100 = 125 (ROI 6.6). By channel: Paid Search 1,050 / 100
(ROI 9.5), Display 300 / 25 (ROI 11; the Audience campaign's type moves t2 there too),
Paid Social 600 / 100 (ROI 5).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from connector.attribution import MODELS
from connector.runtime import Runtime
from connector.spend import pull_spend
from connector.storage.models import MODEL_COLUMNS, Attribution
from platforms.linkedin_ads.sandbox import LinkedInAdsSandbox
from platforms.microsoft_ads.sandbox import MicrosoftAdsSandbox
from tests.id_join_helpers import add_won_buyer, figures_by_group

NOW = datetime.now(UTC).replace(microsecond=0)
D = (NOW - timedelta(days=5)).replace(hour=12, minute=0, second=0)
DAY = D.date()
LI_ACCOUNT = "508000001"
D_ = Decimal


@pytest.fixture(scope="module")
def boxes() -> Iterator[tuple[MicrosoftAdsSandbox, LinkedInAdsSandbox]]:
    with MicrosoftAdsSandbox() as microsoft, LinkedInAdsSandbox() as linkedin:
        yield microsoft, linkedin  # type: ignore[misc]


@pytest.fixture
def world(make_settings, boxes) -> Iterator[Runtime]:
    microsoft, linkedin = boxes
    microsoft.reset()
    linkedin.reset()
    microsoft.reporting.pending_polls = 0
    brand = {"ad_group_id": "7101", "ad_group": "Exact"}
    microsoft.add_delivery(
        DAY, "7001", "MS Brand", "40", 4, 100, keyword_id="7201", keyword="closedloop", **brand
    )
    microsoft.add_delivery(
        DAY, "7001", "MS Brand", "60", 6, 200, keyword_id="7202", keyword="crm attribution", **brand
    )
    microsoft.add_delivery(DAY, "7002", "MS Lookalikes", "25", 2, 900, campaign_type="Audience")
    linkedin.add_ad_account(LI_ACCOUNT, "USD")
    linkedin.add_delivery(LI_ACCOUNT, DAY, "610001", "RevOps leaders", "80", 8, 800)
    linkedin.add_delivery(LI_ACCOUNT, DAY, "610002", "CFO retargeting", "20", 2, 200)
    settings = make_settings(
        {
            "platforms": {
                "microsoft_ads": microsoft.platform_config(),
                "linkedin_ads": {**linkedin.platform_config(), "ad_account_id": LI_ACCOUNT},
            }
        }
    )
    runtime = Runtime.from_settings(settings)
    bing, li = ("Paid Search", "bing", "cpc"), ("Paid Social", "linkedin", "paid_social")
    touches = {
        1: (bing, "utm_id=7001&utm_content=7101&utm_term=7201&msclkid=5f2b", "1000"),
        2: (bing, "utm_id=7002", "300"),
        3: (li, "utm_id=610001&utm_term=5550001&utm_content=7770001", "500"),
        4: (li, "utm_id=610002", "100"),
        5: (bing, "utm_id=999", "50"),
    }
    with runtime.sessions.begin() as s:
        for n, ((channel, source, medium), ids, amount) in touches.items():
            add_won_buyer(
                s,
                n,
                at=D,
                amount=amount,
                url=f"https://shop.example/?utm_source={source}&utm_medium={medium}&{ids}",
                channel=channel,
                source=source,
                medium=medium,
            )
            s.flush()
            whole = {}
            for model in MODELS:
                weight, revenue = MODEL_COLUMNS[model]
                whole[weight], whole[revenue] = D_(1), D_(amount)
            s.add(Attribution(deal_id=f"D{n}", touchpoint_id=n, currency="USD", **whole))
    yield runtime
    runtime.close()


def report(runtime: Runtime, by: str) -> dict[str, tuple[Decimal, Decimal, Decimal | None]]:
    return figures_by_group(runtime, DAY, by)


def test_microsoft_and_linkedin_ids_put_revenue_on_their_spend_rows(world: Runtime) -> None:
    """Campaign, keyword and channel rows hold the hand-computed revenue, spend and ROI."""
    results = pull_spend(world, DAY, DAY)
    assert results["microsoft_ads"]["rows"] == 3
    assert results["microsoft_ads"]["url_ids"] == {"with_ids": 5, "resolved": 2}
    assert results["linkedin_ads"]["rows"] == 2
    assert results["linkedin_ads"]["url_ids"] == {"with_ids": 3, "resolved": 2}
    assert report(world, "campaign") == {
        "MS Brand": (D_("1000.00"), D_("100.00"), D_("9")),
        "MS Lookalikes": (D_("300.00"), D_("25.00"), D_("11")),
        "RevOps leaders": (D_("500.00"), D_("80.00"), D_("5.25")),
        "CFO retargeting": (D_("100.00"), D_("20.00"), D_("4")),
        "(not set)": (D_("50.00"), D_("0.00"), None),
    }
    assert report(world, "keyword") == {
        "closedloop": (D_("1000.00"), D_("40.00"), D_("24")),
        "crm attribution": (D_("0.00"), D_("60.00"), D_("-1")),
        "(not set)": (D_("950.00"), D_("125.00"), D_("6.6")),
    }
    assert report(world, "channel") == {
        "Paid Search": (D_("1050.00"), D_("100.00"), D_("9.5")),
        "Display": (D_("300.00"), D_("25.00"), D_("11")),
        "Paid Social": (D_("600.00"), D_("100.00"), D_("5")),
    }
