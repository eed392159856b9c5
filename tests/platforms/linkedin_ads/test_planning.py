"""What the real sync plans for LinkedIn from tracked journeys and HubSpot deals.

Nothing in ``connector/`` names LinkedIn: these rows come from the adapter's declarations
alone (click kind ``li_fat_id``, its hashing, ``identified_by``, 90-day ``too_old``, kinds).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from connector.storage.models import NotPlanned
from platforms.base import Identifiers, PlannedConversion, Prepared
from platforms.linkedin_ads.adapter import LinkedInAdsDestination
from platforms.linkedin_ads.settings import LinkedInAdsSettings
from tests.sync.conftest import (  # noqa: F401  (fixtures used by name)
    NOW,
    clock,
    faults,
    hubspot,
    outbox,
    seed,
    sync,
    sync_runtime,
    won_deal,
)

#: ``printf 'ann@example.com' | sha256sum``.
ANN_HASH = "71d4f55f72fa128dfb468a1a3901507c804b74316488744d769d7f4b16696476"
LI_FAT_ID = "0b7e4a0c-6a43-4d0e-b5c1-9f1f0c3a2d11"
LINKEDIN = {"enabled": True, "access_token": "AQV-token", "conversion_id": "104906"}


@pytest.fixture
def sync_config(hubspot):  # noqa: F811
    """HubSpot on its sandbox and LinkedIn as the only destination."""
    return {"platforms": {"hubspot": hubspot.platform_config(), "linkedin_ads": dict(LINKEDIN)}}


def _rows(runtime, kind="conversion"):
    return [r for r in outbox(runtime) if r[1] == "linkedin_ads" and r[2] == kind]


def _reasons(runtime):
    with runtime.sessions() as session:
        return [(r.destination, r.reason) for r in session.scalars(select(NotPlanned))]


def test_li_fat_id_click_and_email_are_planned(hubspot, seed, sync, sync_runtime):  # noqa: F811
    """A LinkedIn ad click before the close: the row carries it and LinkedIn's email hash."""
    contact = hubspot.add_contact({"email": " Ann@Example.com"})
    vid = seed.visitor(seed.person("ann@example.com"))
    seed.touch(
        vid,
        NOW - timedelta(days=10),
        click=("li_fat_id", LI_FAT_ID),
        channel="Paid Social",
        source="linkedin",
    )
    won_deal(hubspot, [contact], amount="2500.75", close=NOW - timedelta(days=1))
    assert sync() == "succeeded"
    [row] = _rows(sync_runtime)
    ids = row[9]
    assert ids["click"]["kind"] == "li_fat_id" and ids["click"]["value"] == LI_FAT_ID
    assert ids["email_sha256"] == [ANN_HASH]
    assert "phone_sha256" not in ids
    conversion = PlannedConversion(
        id=1,
        deal_id=row[0],
        destination="linkedin_ads",
        kind=row[2],
        event_name=row[8],
        dedup_key=row[3],
        value=row[5],
        currency=row[6],
        event_time=row[7],
        identifiers=Identifiers.from_json(ids),
    )
    prepared = LinkedInAdsDestination(LinkedInAdsSettings(**LINKEDIN)).prepare(conversion, NOW)
    assert isinstance(prepared, Prepared)
    assert prepared.payload["conversionValue"] == {"currencyCode": "USD", "amount": "2500.75"}
    assert {u["idType"] for u in prepared.payload["user"]["userIds"]} == {
        "SHA256_EMAIL",
        "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID",
    }


def test_untracked_contact_is_planned_by_email(hubspot, sync, sync_runtime):  # noqa: F811
    """Never on the site: the hashed email alone lets LinkedIn match the member."""
    won_deal(hubspot, [hubspot.add_contact({"email": "ann@example.com"})])
    assert sync() == "succeeded"
    [row] = _rows(sync_runtime)
    assert row[9]["email_sha256"] == [ANN_HASH] and "click" not in row[9]


def test_older_than_90_days_is_not_planned(hubspot, seed, sync, sync_runtime):  # noqa: F811
    """A tracked LinkedIn click, but a win 100 days ago: nothing planned, with the reason."""
    contact = hubspot.add_contact({"email": "ann@example.com"})
    vid = seed.visitor(seed.person("ann@example.com"))
    seed.touch(vid, NOW - timedelta(days=120), click=("li_fat_id", LI_FAT_ID))
    won_deal(hubspot, [contact], close=NOW - timedelta(days=100))
    assert sync() == "succeeded"
    assert _rows(sync_runtime) == []
    [(destination, reason)] = _reasons(sync_runtime)
    assert destination == "linkedin_ads" and "90 days" in reason


def test_amount_change_plans_no_restatement(hubspot, sync, sync_runtime):  # noqa: F811
    """LinkedIn cannot restate: a re-priced deal leaves the original conversion standing."""
    deal = won_deal(hubspot, [hubspot.add_contact({"email": "ann@example.com"})])
    assert sync() == "succeeded"
    hubspot.update_deal(deal, amount="1800")
    assert sync() == "succeeded"
    assert len(_rows(sync_runtime)) == 1
    assert _rows(sync_runtime, "restatement") == []
