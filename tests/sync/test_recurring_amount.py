"""``deal.recurring_amount``: the HubSpot pull reads it via the profile, the store keeps it.

Against the HubSpot sandbox, which answers only the properties a request names: a value can
only arrive if the profile's property is requested.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from connector.reports import ReportRange, source_report, source_report_options
from connector.runtime import Runtime
from connector.storage.models import Deal
from tests.sync.conftest import NOW, Seeder, Syncer, won_deal


@pytest.fixture
def mapped_runtime(make_settings, sync_config):
    sync_config["mapping"] = {"overrides": {"deal": {"recurring_amount": "mrr_amount"}}}
    rt = Runtime.from_settings(make_settings(sync_config))
    yield rt
    rt.close()


def stored(rt) -> dict[str, Decimal | None]:
    with rt.sessions() as session:
        return {i: v for i, v in session.execute(select(Deal.id, Deal.recurring_amount))}


def test_mapped_property_is_pulled_and_stored(hubspot, mapped_runtime, clock):
    """99.50 is stored; a malformed or missing value is NULL and never holds the deal back."""
    seed = Seeder(mapped_runtime)
    contact = hubspot.add_contact({"email": "ann@example.com"})
    seed.touch(seed.visitor(seed.person("ann@example.com")), NOW - timedelta(days=3))
    good = won_deal(hubspot, [contact], mrr_amount="99.50")
    bad = won_deal(hubspot, [contact], mrr_amount="n/a")
    none = won_deal(hubspot, [contact])
    Syncer(mapped_runtime, clock)()
    values = stored(mapped_runtime)
    assert values[good] == Decimal("99.50")
    assert values[bad] is None and values[none] is None
    with mapped_runtime.sessions() as session:
        assert session.scalar(select(Deal.amount).where(Deal.id == bad)) == Decimal("1000")
        options = source_report_options(mapped_runtime.settings)
        assert options["recurring_mapped"] is True
        day = (NOW - timedelta(days=1)).date()
        report = source_report(session, ReportRange(day, day), **options)
    assert report["totals"]["kpis"]["mrr"] == Decimal("99.50")


def test_unmapped_property_is_not_requested(hubspot, sync_runtime, sync, clock):
    """Without the mapping the value is not asked for, so nothing is stored."""
    contact = hubspot.add_contact({"email": "bo@example.com"})
    deal = won_deal(hubspot, [contact], mrr_amount="99.50")
    sync()
    assert stored(sync_runtime)[deal] is None
    assert source_report_options(sync_runtime.settings)["recurring_mapped"] is False
