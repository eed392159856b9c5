"""A privacy request reaches every place closedloop put the person: tables, outbox, CRM, GA4.

Jane is tracked (two clicks, GA and Meta browser IDs, IP, user agent), written back to the
HubSpot sandbox, and her won deal is planned to all three destinations (one row delivered, one
dead, one pending). Olga, tracked the same way, must come through untouched. After
``POST /privacy/forget`` a scan of every column of every table finds nothing of Jane, her
HubSpot contact keeps none of what closedloop wrote, and the GA4 sandbox received a deletion
for her client ID; a second request finds nothing and succeeds, and a later sync re-plans
nothing for her deal.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select, update

from connector.cli import cli
from connector.identity import email_key, meta_email_hash, phone_key
from connector.runtime import Runtime
from connector.storage.models import (
    Base,
    ClickId,
    Conversion,
    ErasureRequest,
    Lead,
    Person,
    Touchpoint,
    Visitor,
    utcnow,
)
from connector.sync.backfill import run_backfill, since_start
from connector.tracking import erasures
from connector.tracking import forget as privacy
from connector.tracking.schemas import ForgetReport
from connector.tracking.worker import crm_source
from connector.tracking.writeback import process_pending
from platforms.ga4.sandbox import EDIT_SCOPE, READONLY_SCOPE, GA4Sandbox
from platforms.google_hashing import GOOGLE_HASHING
from platforms.hubspot.sandbox import HubSpotSandbox
from platforms.meta.hashing import META_HASHING
from tests.sync.conftest import GOOGLE, META, NOW, outbox, won_deal

AUTH = {"Authorization": "Bearer test-trigger-token"}


def _person(tag: str, n: int) -> dict[str, str]:
    """Everything that identifies one test person (distinct, realistic-looking values)."""
    return {
        "email": f"{tag}.doe@example.com",
        "phone": f"+1415555{n:04d}",
        "visitor": f"{tag}-visitor-000{n}",
        "gclid": f"Cj0KCQ{tag}gclid{n}xyz",
        "fbclid": f"IwAR{tag}fbclid{n}abc",
        "client_id": f"{n}00000001.1700000000",
        "fbp": f"fb.1.1700000000000.{n}000000001",
        "fbc": f"fb.1.1700000000000.IwAR{tag}fbclid{n}abc",
        "ip": f"203.0.113.{n}",
        "ua": f"Mozilla/5.0 ({tag}Browser)",
        "hubspotutk": f"{tag}utk{n}0000000000000000",
    }


JANE, OLGA = _person("jane", 7), _person("olga", 8)


def _needles(who: dict[str, str]) -> set[str]:
    """The person's values and every hash of them a platform may have been sent."""
    email, phone = who["email"], who["phone"]
    hashes = {
        email_key(email),
        meta_email_hash(email),
        GOOGLE_HASHING.email(email),
        META_HASHING.email(email),
        phone_key(phone),
        GOOGLE_HASHING.phone(phone, "US"),
        META_HASHING.phone(phone, "US"),
    }
    plain = {v for k, v in who.items() if k != "ua"} | {phone.removeprefix("+"), who["ua"]}
    return {v.lower() for v in plain | hashes if v}


def scan(runtime: Runtime, needles: set[str]) -> list[tuple[str, str, str]]:
    """(table, column, needle) for every stored value holding one of ``needles``."""
    found = []
    with runtime.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(select(table)).mappings():
                for column, value in row.items():
                    if value is None:
                        continue
                    text = (
                        json.dumps(value, default=str)
                        if isinstance(value, dict | list)
                        else str(value)
                    )
                    found.extend((table.name, column, n) for n in needles if n in text.lower())
    return found


@pytest.fixture
def ga4() -> Iterator[GA4Sandbox]:
    """The GA4 sandbox; its deletions are what the User Deletion API received."""
    with GA4Sandbox() as sandbox:
        yield sandbox


@pytest.fixture
def sync_config(hubspot: HubSpotSandbox, ga4: GA4Sandbox) -> dict[str, Any]:
    """All four platforms on, GA4 with user deletion and an edit-scoped grant."""
    section = ga4.platform_config()
    section["credentials"] = ga4.credentials(ga4.grant({READONLY_SCOPE, EDIT_SCOPE}))
    section["user_deletion"] = True
    return {
        "platforms": {
            "hubspot": hubspot.platform_config(),
            "google_ads": dict(GOOGLE),
            "ga4": section,
            "meta": dict(META),
        }
    }


def _track(runtime: Runtime, who: dict[str, str]) -> None:
    """The journey /collect and /identify would store: two clicks, browser IDs, a lead."""
    with runtime.sessions.begin() as session:
        person = Person(
            email_sha256=email_key(who["email"]),
            phone_sha256=phone_key(who["phone"]),
            email=who["email"],
            phone_e164=who["phone"],
        )
        session.add(person)
        session.flush()
        session.add(
            Visitor(
                id=who["visitor"],
                person_id=person.id,
                first_seen_at=NOW - timedelta(days=30),
                last_seen_at=NOW - timedelta(days=5),
                ga_client_id=who["client_id"],
                fbp=who["fbp"],
                fbc=who["fbc"],
                hubspotutk=who["hubspotutk"],
                user_agent=who["ua"],
                client_ip=who["ip"],
                client_ip_at=NOW - timedelta(days=5),
                consent_ad_user_data=True,
                consent_ad_personalization=True,
            )
        )
        session.flush()
        for days, kind, channel, source in (
            (10, "gclid", "Paid Search", "google"),
            (5, "fbclid", "Paid Social", "facebook"),
        ):
            touch = Touchpoint(
                visitor_id=who["visitor"],
                occurred_at=NOW - timedelta(days=days),
                url=f"https://shop.example/?{kind}={who[kind]}",
                channel=channel,
                source=source,
                click_ids={kind: who[kind]},
                ga_client_id=who["client_id"],
                ga_session_id=f"17000000{days:02d}",
                fbp=who["fbp"],
                fbc=who["fbc"] if kind == "fbclid" else None,
            )
            session.add(touch)
            session.flush()
            session.add(
                ClickId(
                    visitor_id=who["visitor"],
                    kind=kind,
                    value=who[kind],
                    first_seen_at=touch.occurred_at,
                    touchpoint_id=touch.id,
                )
            )
        session.add(
            Lead(
                person_id=person.id,
                visitor_id=who["visitor"],
                occurred_at=NOW - timedelta(days=5),
                page_url=f"https://shop.example/contact?gclid={who['gclid']}",
            )
        )


def _contact_of(runtime: Runtime, who: dict[str, str]) -> str:
    with runtime.sessions() as session:
        contact = session.scalar(
            select(Person.crm_contact_id).where(Person.email_sha256 == email_key(who["email"]))
        )
    assert contact
    return contact


@pytest.fixture
def world(hubspot, sync, sync_runtime) -> dict[str, str]:
    """Jane and Olga tracked, written back to HubSpot, their won deals planned and delivered."""
    for who in (JANE, OLGA):
        _track(sync_runtime, who)
    written = process_pending(sync_runtime, crm_source(sync_runtime), utcnow())
    assert written["written"] == 2
    deals = {}
    for tag, who in (("jane", JANE), ("olga", OLGA)):
        contact = _contact_of(sync_runtime, who)
        assert hubspot.contacts[contact]["hs_google_click_id"] == who["gclid"]
        deals[tag] = won_deal(hubspot, [contact], amount="900")
        deals[f"{tag}_contact"] = contact
    assert sync() == "succeeded"
    with sync_runtime.sessions.begin() as session:
        for tag, who in (("jane", JANE), ("olga", OLGA)):
            for destination, status in (("google_ads", "accepted"), ("ga4", "dead")):
                session.execute(
                    update(Conversion)
                    .where(Conversion.destination == destination, Conversion.deal_id == deals[tag])
                    .values(
                        status=status,
                        reason=f"fbc {who['fbc']} looked odd",  # platforms echo what they got
                        diagnostics={"echo": [who["gclid"]]},
                    )
                )
    rows = {(r[0], r[1]) for r in outbox(sync_runtime)}
    assert {(deals["jane"], d) for d in ("google_ads", "ga4", "meta")} <= rows
    return deals


def test_forget_leaves_nothing_of_the_person_anywhere(
    world, hubspot, ga4, sync, sync_runtime, make_app, make_settings, sync_config, db_url, tmp_path
):
    """Tables, outbox, HubSpot contact and GA4: nothing of Jane left; Olga untouched."""
    jane, olga = _needles(JANE), _needles(OLGA)
    assert {t for t, _, _ in scan(sync_runtime, jane)} >= {"persons", "visitors", "conversions"}
    before = outbox(sync_runtime)

    client = make_app(make_settings(sync_config)).test_client()
    response = client.post("/privacy/forget", json={"email": JANE["email"]}, headers=AUTH)
    assert response.status_code == 200
    report = ForgetReport.model_validate(response.get_json())
    assert report.removed["persons"] == 1 and report.removed["visitors"] == 1
    assert report.outbox == {"scrubbed": 2, "withdrawn": 1}  # delivered + dead; pending Meta
    assert report.places["hubspot"].model_dump() == {
        "role": "crm",
        "asked": 1,
        "done": 1,
        "pending": 0,
        "failed": 0,
        "erased": {"contacts": 1, "properties": 15},
        "errors": [],
    }
    assert report.places["ga4"].asked == report.places["ga4"].done == 1
    assert report.complete and report.outstanding == {"pending": 0, "failed": 0}

    assert scan(sync_runtime, jane) == []
    assert {t for t, _, _ in scan(sync_runtime, olga)} >= {"persons", "visitors", "conversions"}
    contact = hubspot.contacts[world["jane_contact"]]
    written = set(sync_runtime.profile.writeback.properties.values())
    assert all(contact.get(name) in (None, "") for name in written)
    own = {sync_runtime.profile.contact.email, sync_runtime.profile.contact.phone}
    left = {k: v for k, v in contact.items() if k not in own and v and v.lower() in jane}
    assert left == {}
    assert hubspot.contacts[world["olga_contact"]]["hs_google_click_id"] == OLGA["gclid"]
    assert [(d["field"], d["id"]) for d in ga4.user_deletions] == [("clientId", JANE["client_id"])]
    after = {(r[0], r[1]): r for r in outbox(sync_runtime)}
    for row in before:  # amounts, keys and (except the withdrawn one) statuses kept
        kept = after[(row[0], row[1])]
        assert kept[2:9] == row[2:9]
        if row[0] == world["olga"]:
            assert kept == row

    # A second request: nothing left, nothing asked, success.
    config = tmp_path / "closedloop.yaml"
    config.write_text(yaml.safe_dump({**sync_config, "database": {"url": db_url}}))
    result = CliRunner().invoke(cli, ["-c", str(config), "forget", "--email", JANE["email"]])
    assert result.exit_code == 0, result.output
    assert "removed 0 rows" in result.output
    assert "0 rows scrubbed of identifiers, 0 unsent rows withdrawn" in result.output
    assert "platforms: nothing to erase" in result.output
    assert "nothing outstanding" in result.output
    assert len(ga4.user_deletions) == 1

    # A later sync that sees the deal again, and a replay of everything, plan nothing new for
    # it, though HubSpot still has her email (Meta's withdrawn row would take its hash).
    count = len(outbox(sync_runtime))
    sync.clock.advance(minutes=30)
    hubspot.update_deal(world["jane"], dealname="Renamed after erase")
    assert sync() == "succeeded"
    assert sync.last["counts"]["deals_pulled"] >= 1
    assert sync.last["counts"]["conversions_planned"] == 0
    assert len(outbox(sync_runtime)) == count
    _run_id, status = run_backfill(
        sync_runtime, since_start(date(2026, 1, 1)), service=sync.service()
    )
    assert status == "succeeded"
    assert len(outbox(sync_runtime)) == count
    assert scan(sync_runtime, jane) == []
    with sync_runtime.sessions() as session:
        rows = session.scalars(select(Conversion).where(Conversion.deal_id == world["jane"]))
        assert all(
            not (set(r.identifiers) - {"consent_ad_user_data", "consent_ad_personalization"})
            for r in rows
        )


def test_a_platform_that_fails_is_asked_again_later(world, ga4, sync_runtime):
    """GA4 down: the local erase stands, the report says so, a later pass finishes the job."""
    ga4.fail_user_deletions(1)
    report = privacy.erase(sync_runtime, email=JANE["email"])
    assert report["removed"]["persons"] == 1
    assert report["places"]["ga4"]["pending"] == 1
    assert "ServiceUnavailable" in report["places"]["ga4"]["errors"][0]
    assert report["places"]["hubspot"]["done"] == 1
    assert not report["complete"] and report["outstanding"] == {"pending": 1, "failed": 0}
    # Only the queued client ID (needed to ask again) is left of Jane.
    assert {(t, c) for t, c, _ in scan(sync_runtime, _needles(JANE))} == {
        ("erasure_requests", "item")
    }
    assert ga4.user_deletions == []

    erasures.work(sync_runtime)  # not due yet: backing off
    assert ga4.user_deletions == []
    erasures.work(sync_runtime, utcnow() + timedelta(hours=1))
    assert [d["id"] for d in ga4.user_deletions] == [JANE["client_id"]]
    assert scan(sync_runtime, _needles(JANE)) == []
    assert erasures.outstanding(sync_runtime) == {"pending": 0, "failed": 0}
    with sync_runtime.sessions() as session:
        done = session.scalars(select(ErasureRequest).where(ErasureRequest.place == "ga4")).one()
        assert (done.status, done.item, done.result, done.attempts) == (
            "done",
            {},
            {"users": 1},
            2,
        )


def test_a_refusal_is_recorded_and_retried_on_request(world, ga4, hubspot, sync_runtime):
    """A grant without the edit scope is a permanent failure: recorded, retried when asked."""
    section = sync_runtime.settings.platforms.ga4
    section.credentials = ga4.credentials(ga4.grant({READONLY_SCOPE}))
    report = privacy.erase(sync_runtime, visitor_id=JANE["visitor"])
    assert report["removed"]["persons"] == 1
    assert report["places"]["ga4"]["failed"] == 1
    assert "invalid_scope" in report["places"]["ga4"]["errors"][0]
    assert report["outstanding"] == {"pending": 0, "failed": 1}
    erasures.work(sync_runtime, utcnow() + timedelta(days=1))
    assert ga4.user_deletions == []  # failed for good: not retried by itself

    section.credentials = ga4.credentials(ga4.grant({READONLY_SCOPE, EDIT_SCOPE}))
    assert privacy.retry(sync_runtime, failed=True) == {
        "revived": 1,
        "outstanding": {"pending": 0, "failed": 0},
    }
    assert [d["id"] for d in ga4.user_deletions] == [JANE["client_id"]]
