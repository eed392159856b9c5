"""What the sync plans for Meta: the newest fbclid click, late consent, the converting visit."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from connector.storage.models import ConsentUpdate, Conversion, Visitor
from connector.tracking.retention import purge_expired_ips
from platforms.base import Identifiers, PlannedConversion, Prepared
from platforms.meta.adapter import MetaDestination
from platforms.meta.sandbox import MetaSandbox
from tests.sync.conftest import NOW, outbox, won_deal

CLOSE = NOW - timedelta(days=1)
MARCH, JUNE = NOW - timedelta(days=80), NOW - timedelta(days=3)


def _ms(at) -> int:
    return int(at.timestamp() * 1000)


def meta_ids(runtime) -> dict:
    [row] = [r for r in outbox(runtime) if r[1] == "meta"]
    return row[9]


def person_with_visitor(hubspot, seed, **visitor):
    contact = hubspot.add_contact({"email": "ann@example.com"})
    vid = seed.visitor(seed.person("ann@example.com"), **visitor)
    return contact, vid


def test_a_second_meta_click_replaces_the_first(hubspot, seed, sync, sync_runtime):
    """March click, then June click whose page still carried March's _fbc: June is sent."""
    contact, vid = person_with_visitor(hubspot, seed, consent_ad_user_data=True)
    march_fbc = f"fb.1.{_ms(MARCH)}.FB-March"
    seed.touch(vid, MARCH, click=("fbclid", "FB-March"), fbc=march_fbc)
    seed.touch(vid, JUNE, click=("fbclid", "FB-June"), fbc=march_fbc)  # an old snippet's hit
    won_deal(hubspot, [contact], close=CLOSE)
    assert sync() == "succeeded"
    ids = meta_ids(sync_runtime)
    assert ids["fbc"] == f"fb.1.{_ms(JUNE)}.FB-June"
    assert ids["fbclid"] == "FB-June" and ids["click_time"] == JUNE.isoformat()


def test_a_click_after_the_close_does_not_count(hubspot, seed, sync, sync_runtime):
    """Only clicks before the close: a later fbclid is someone else's story."""
    contact, vid = person_with_visitor(hubspot, seed)
    seed.touch(vid, MARCH, click=("fbclid", "FB-March"))
    seed.touch(vid, NOW, click=("fbclid", "FB-After"))
    won_deal(hubspot, [contact], close=CLOSE)
    assert sync() == "succeeded"
    assert meta_ids(sync_runtime)["fbc"] == f"fb.1.{_ms(MARCH)}.FB-March"


def test_consent_update_after_the_page_view_wins(hubspot, seed, sync, sync_runtime):
    """A denial sent by the page after its (granted) page view is the signal that counts."""
    contact, vid = person_with_visitor(hubspot, seed)
    seed.touch(vid, JUNE, click=("fbclid", "FB-June"), consent_ad_user_data=True)
    with sync_runtime.sessions.begin() as session:
        session.add(
            ConsentUpdate(
                visitor_id=vid, occurred_at=JUNE + timedelta(seconds=5), consent_ad_user_data=False
            )
        )
        session.add(  # after the close: not this conversion's signal
            ConsentUpdate(visitor_id=vid, occurred_at=NOW, consent_ad_user_data=True)
        )
    won_deal(hubspot, [contact], close=CLOSE)
    assert sync() == "succeeded"
    ids = meta_ids(sync_runtime)
    assert ids["consent_ad_user_data"] is False
    assert "client_ip" not in ids and "user_agent" not in ids and "page_url" not in ids
    conversion = planned(ids)
    assert MetaDestination(_settings()).prepare(conversion, NOW).code == "consent_denied"


def test_browser_context_from_the_converting_visit(hubspot, seed, sync, sync_runtime):
    """User agent, IP and page URL of the visit before the close reach the outbox row."""
    contact, vid = person_with_visitor(
        hubspot, seed, user_agent="Mozilla/5.0 (Ann)", client_ip="203.0.113.9",
        client_ip_at=JUNE, consent_ad_user_data=True,
    )  # fmt: skip
    seed.touch(vid, JUNE, click=("fbclid", "FB-June"))
    won_deal(hubspot, [contact], close=CLOSE)
    assert sync() == "succeeded"
    ids = meta_ids(sync_runtime)
    assert (ids["user_agent"], ids["client_ip"], ids["page_url"]) == (
        "Mozilla/5.0 (Ann)",
        "203.0.113.9",
        "https://example.com/",
    )


def test_website_action_source_is_sent_not_skipped(hubspot, seed, sync, sync_runtime):
    """action_source website: the planned event now has its page URL and reaches Meta."""
    contact, vid = person_with_visitor(hubspot, seed, user_agent="Mozilla/5.0 (Ann)")
    seed.touch(vid, JUNE, click=("fbclid", "FB-June"))
    won_deal(hubspot, [contact], close=CLOSE)
    assert sync() == "succeeded"
    with MetaSandbox(clock=lambda: NOW) as sandbox:
        dest = MetaDestination(_settings(sandbox, action_source="website"), timeout=10)
        prepared = dest.prepare(planned(meta_ids(sync_runtime)), NOW)
        assert isinstance(prepared, Prepared), prepared
        dest.send([prepared])
        dest.close()
        [event] = sandbox.accepted
    assert event["action_source"] == "website"
    assert event["event_source_url"] == "https://example.com/"


def test_expired_ips_are_erased_everywhere(seed, sync_runtime):
    """After ip_retention_days the IP is gone from visitors and outbox rows; fresh ones stay."""
    old = seed.visitor(None, client_ip="203.0.113.1", client_ip_at=NOW - timedelta(days=8))
    fresh = seed.visitor(None, client_ip="203.0.113.2", client_ip_at=NOW - timedelta(days=6))
    with sync_runtime.sessions.begin() as session:
        for n, created in ((1, NOW - timedelta(days=8)), (2, NOW - timedelta(days=1))):
            session.add(
                Conversion(
                    deal_id=f"d{n}", destination="meta", event_name="Purchase",
                    dedup_key=f"k{n}", value=1, currency="USD", event_time=created,
                    identifiers={"client_ip": "203.0.113.1", "fbp": "fb.1.1700000000000.1"},
                    created_at=created,
                )
            )  # fmt: skip
    assert purge_expired_ips(sync_runtime.sessions, 7, NOW) == {"visitors": 1, "conversions": 1}
    with sync_runtime.sessions() as session:
        ips = {v.id: v.client_ip for v in session.scalars(select(Visitor))}
        rows = {c.deal_id: c.identifiers for c in session.scalars(select(Conversion))}
    assert ips == {old: None, fresh: "203.0.113.2"}
    assert rows["d1"] == {"fbp": "fb.1.1700000000000.1"}
    assert rows["d2"]["client_ip"] == "203.0.113.1"


def _settings(sandbox: MetaSandbox | None = None, **overrides):
    from connector.config.models import MetaSettings

    config = sandbox.platform_config() if sandbox else {"pixel_id": "1", "access_token": "x"}
    return MetaSettings(**{**config, **overrides})


def planned(ids: dict) -> PlannedConversion:
    """The stored identifiers as the outbox hands them to the adapter."""
    from decimal import Decimal

    return PlannedConversion(
        id=1, deal_id="d", destination="meta", kind="conversion", event_name="Purchase",
        dedup_key="k", value=Decimal("10"), currency="USD", event_time=CLOSE,
        identifiers=Identifiers.from_json(ids),
    )  # fmt: skip
