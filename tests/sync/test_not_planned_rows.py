"""The sync keeps why a deal planned nothing for a platform, for the delivery report."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from connector.reports import ReportRange, delivery_report
from connector.storage.models import NotPlanned
from tests.sync.conftest import NOW, won_deal


def _tracked(hubspot, seed, email="ann@example.com"):
    """A contact whose visitor has a Google click and a GA client ID."""
    contact = hubspot.add_contact({"email": email})
    vid = seed.visitor(seed.person(email), ga_client_id="111.222")
    seed.touch(vid, NOW - timedelta(days=35), click=("gclid", "G-1"))
    return contact


def _reasons(runtime):
    with runtime.sessions() as session:
        return sorted(
            (r.deal_id, r.destination, r.what, r.reason)
            for r in session.scalars(select(NotPlanned))
        )


def test_never_tracked_and_too_old_are_stored_per_platform(hubspot, seed, sync, sync_runtime):
    """Never tracked: GA4 (no client ID) says so; a win 30 days ago: Meta too old.

    Google and Meta take the never-tracked deal by hashed email, so only GA4 lists it.
    """
    never = won_deal(hubspot, [hubspot.add_contact({"email": "new@example.com"})])
    old = won_deal(hubspot, [_tracked(hubspot, seed)], close=NOW - timedelta(days=30))
    assert sync() == "succeeded"
    stored = _reasons(sync_runtime)
    assert [(d, dest) for d, dest, _, _ in stored] == sorted([(never, "ga4"), (old, "meta")])
    by_key = {(d, dest): (what, reason) for d, dest, what, reason in stored}
    assert by_key[(never, "ga4")] == ("closed_won", "contacts never tracked")
    assert "7 days" in by_key[(old, "meta")][1]
    with sync_runtime.sessions() as session:
        report = delivery_report(
            session, ReportRange(date(2026, 10, 1), date(2026, 11, 30)), currency="USD"
        )["platforms"]
    assert report["ga4"]["not_planned"] == [
        {"what": "closed_won", "reason": "contacts never tracked", "count": 1}
    ]
    assert [r["count"] for r in report["meta"]["not_planned"]] == [1]


def test_a_dry_run_stores_no_reasons(hubspot, seed, sync, sync_runtime):
    """A dry run plans (and counts) but leaves ``not_planned`` as it was."""
    won_deal(hubspot, [hubspot.add_contact({"email": "new@example.com"})])
    assert sync(dry_run=True) == "succeeded"
    assert _reasons(sync_runtime) == []
