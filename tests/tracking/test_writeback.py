"""CRM write-back into the HubSpot sandbox: touches, click IDs, retries, claims."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from connector.mapping import load_profile
from connector.storage.models import Lead, Person, utcnow
from connector.tracking.routes import WORKER
from connector.tracking.worker import writeback_job
from connector.tracking.writeback import claim, process_pending
from platforms.hubspot.sandbox import HubSpotSandbox
from platforms.hubspot.source import HubSpotSource
from platforms.sandbox_kit import Fault, FaultPlan

LAPTOP, PHONE = "laptop-0000000001", "phone-00000000002"


@pytest.fixture
def hubspot() -> Iterator[HubSpotSandbox]:
    """A HubSpot sandbox for the write-back."""
    with HubSpotSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def tracked(make_client, hubspot):
    """A tracking app with HubSpot on (worker thread off: the tests drive the passes)."""

    def build(extra: dict | None = None):
        client, runtime = make_client(
            {"platforms": {"hubspot": hubspot.platform_config()}, **(extra or {})}
        )
        client.application.extensions[WORKER].autostart = False
        source = HubSpotSource(
            runtime.settings.platforms.hubspot,
            load_profile(runtime.settings),
            max_attempts=1,
            sleep=lambda _s: None,
        )
        return client, runtime, source

    return build


def _ms(moment) -> int:
    return int(moment.timestamp() * 1000)


def _journey(client, now) -> None:
    """Paid search on the laptop, then a Facebook post on the phone, then the form."""
    client.post(
        "/collect",
        json={
            "visitor_id": LAPTOP,
            "url": "https://shop.example/spring?utm_source=google&utm_medium=cpc"
            "&utm_campaign=spring&utm_term=crm+software&gclid=GCLID-1",
            "ts": _ms(now - timedelta(hours=5)),
        },
    )
    client.post(
        "/collect",
        json={
            "visitor_id": PHONE,
            "url": "https://shop.example/blog",
            "referrer": "https://m.facebook.com/",
            "ts": _ms(now - timedelta(hours=1)),
        },
    )
    client.post("/identify", json={"visitor_id": LAPTOP, "email": "Jane@Example.com"})
    client.post(
        "/identify", json={"visitor_id": PHONE, "email": "jane@example.com", "phone": "4155550123"}
    )


def test_writes_first_and_last_touch(tracked, hubspot):
    """One contact gets first/last touch, latest gclid and visitor ID; properties created once."""
    client, runtime, source = tracked()
    _journey(client, utcnow())
    now = utcnow()
    counts = process_pending(runtime, source, now)
    assert counts == {"claimed": 2, "written": 2, "retry": 0, "failed": 0}
    [(contact_id, props)] = [
        (cid, p) for cid, p in hubspot.contacts.items() if p.get("email") == "jane@example.com"
    ]
    assert props["closedloop_first_source"] == "google"
    assert props["closedloop_first_medium"] == "cpc"
    assert props["closedloop_first_campaign"] == "spring"
    assert props["closedloop_first_keyword"] == "crm software"
    assert props["closedloop_first_channel"] == "Paid Search"
    assert props["closedloop_first_landing_page"].startswith("https://shop.example/spring?")
    assert props["closedloop_last_source"] == "m.facebook.com"  # GA4 reports the referrer host
    assert props["closedloop_last_channel"] == "Organic Social"
    assert props["closedloop_last_landing_page"] == "https://shop.example/blog"
    assert props["hs_google_click_id"] == "GCLID-1"
    assert props["closedloop_visitor_id"] == PHONE
    assert props["phone"] == "+14155550123"
    assert hubspot.contact_properties["closedloop_first_source"]["groupName"] == "closedloop"
    with runtime.sessions() as session:
        person = session.scalars(select(Person)).one()
        statuses = set(session.scalars(select(Lead.crm_status)))
    assert person.crm_contact_id == contact_id
    assert person.email is None  # kept only until HubSpot had it
    assert statuses == {"done"}
    assert process_pending(runtime, source, now)["claimed"] == 0


def test_existing_contact_is_updated_not_duplicated(tracked, hubspot):
    """A contact that already exists in HubSpot is found by email and updated."""
    existing = hubspot.add_contact({"email": "jane@example.com", "firstname": "Jane"})
    client, runtime, source = tracked()
    _journey(client, utcnow())
    process_pending(runtime, source, utcnow())
    matches = [cid for cid, p in hubspot.contacts.items() if p.get("email") == "jane@example.com"]
    assert matches == [existing]
    assert hubspot.contacts[existing]["closedloop_first_source"] == "google"


def test_failure_retries_with_backoff(tracked, hubspot):
    """A 5xx leaves the lead pending with a later due time; the next due pass writes it."""
    client, runtime, source = tracked()
    _journey(client, utcnow())
    now = utcnow()
    hubspot.faults = FaultPlan(rates={Fault.SERVER_ERROR: 1.0})
    assert process_pending(runtime, source, now)["retry"] == 2
    with runtime.sessions() as session:
        leads = session.scalars(select(Lead)).all()
    assert {lead.crm_status for lead in leads} == {"pending"}
    assert all(lead.crm_attempts == 1 and lead.crm_error for lead in leads)
    assert all(lead.crm_next_attempt_at > now for lead in leads)
    assert process_pending(runtime, source, now)["claimed"] == 0  # not due yet
    hubspot.faults = FaultPlan.none()
    later = max(lead.crm_next_attempt_at for lead in leads) + timedelta(seconds=1)
    assert process_pending(runtime, source, later)["written"] == 2
    assert any(p.get("closedloop_first_source") for p in hubspot.contacts.values())


def test_gives_up_after_max_attempts(tracked, hubspot):
    """After delivery.max_attempts failures the lead is failed with the reason."""
    client, runtime, source = tracked({"delivery": {"max_attempts": 1}})
    _journey(client, utcnow())
    hubspot.faults = FaultPlan(rates={Fault.UNAVAILABLE: 1.0})
    assert process_pending(runtime, source, utcnow())["failed"] == 2
    with runtime.sessions() as session:
        lead = session.scalars(select(Lead)).first()
    assert lead.crm_status == "failed"
    assert lead.crm_error


def test_claim_is_exclusive_and_expires(tracked):
    """A claimed lead is not claimed again until its claim lease runs out."""
    client, runtime, _ = tracked()
    _journey(client, utcnow())
    now = utcnow()
    first = claim(runtime, now, 10)
    assert len(first) == 2
    assert claim(runtime, now, 10) == []
    assert sorted(claim(runtime, now + timedelta(minutes=6), 10)) == sorted(first)


def test_worker_thread_writes_after_identify(make_client, hubspot):
    """With autostart on, /identify wakes the background thread, which writes the contact."""
    client, runtime = make_client({"platforms": {"hubspot": hubspot.platform_config()}})
    worker = client.application.extensions[WORKER]
    try:
        _journey(client, utcnow())
        assert worker.wait_idle(30)
        with runtime.sessions() as session:
            assert set(session.scalars(select(Lead.crm_status))) == {"done"}
        assert any(p.get("closedloop_first_source") == "google" for p in hubspot.contacts.values())
    finally:
        worker.stop()


def test_writeback_job_for_the_scheduler(tracked, hubspot, make_client):
    """writeback_job drains due leads through the registry's HubSpot source; no-op when off."""
    client, runtime, _ = tracked()
    _journey(client, utcnow())
    assert writeback_job(runtime)["written"] == 2
    assert any(p.get("closedloop_visitor_id") == PHONE for p in hubspot.contacts.values())
    off_client, off_runtime = make_client()
    off_client.post("/identify", json={"visitor_id": LAPTOP, "email": "a@b.example"})
    assert writeback_job(off_runtime) == {"claimed": 0, "written": 0, "retry": 0, "failed": 0}


BATCH_READ = "POST /crm/v3/objects/contacts/batch/read"
BATCH_CREATE = "POST /crm/v3/objects/contacts/batch/create"
BATCH_UPDATE = "POST /crm/v3/objects/contacts/batch/update"
SEARCH = "POST /crm/v3/objects/contacts/search"
ONE_BY_ONE = (
    "POST /crm/v3/objects/contacts",
    "PATCH /crm/v3/objects/contacts/{id}",
)


def _leads(client, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        visitor = f"visitor-{n:08d}"
        client.post("/collect", json={"visitor_id": visitor, "url": f"https://shop.example/{n}"})
        client.post("/identify", json={"visitor_id": visitor, "email": f"lead{n}@example.com"})


@pytest.mark.parametrize(("leads", "existing", "calls"), [(50, 10, 1), (150, 0, 2)])
def test_request_count_is_per_hundred_contacts(tracked, hubspot, leads, existing, calls):
    """N leads cost a batch read, a search (visitor/phone) and a create/update per 100 contacts."""
    for n in range(existing):
        hubspot.add_contact({"email": f"LEAD{n}@example.com"})
    client, runtime, source = tracked()
    _leads(client, leads)
    source.ensure_contact_properties(
        dict(load_profile(runtime.settings).writeback.properties), "closedloop"
    )
    before, by_endpoint = source.requests_made, dict(hubspot.requests_by_endpoint)
    counts = process_pending(runtime, source, utcnow(), limit=leads)
    assert counts == {"claimed": leads, "written": leads, "retry": 0, "failed": 0}
    sent = {k: v - by_endpoint.get(k, 0) for k, v in hubspot.requests_by_endpoint.items()}
    sent = {k: v for k, v in sent.items() if v}
    expected = {BATCH_READ: calls, SEARCH: calls, BATCH_CREATE: calls}
    if existing:
        expected[BATCH_UPDATE] = 1
    assert sent == expected
    assert source.requests_made - before == sum(expected.values())
    assert not any(sent.get(name) for name in ONE_BY_ONE)
    emails = sorted(p["email"].lower() for p in hubspot.contacts.values())
    assert emails == sorted(f"lead{n}@example.com" for n in range(leads))  # no duplicates
    assert all(p.get("closedloop_visitor_id") for p in hubspot.contacts.values())
    with runtime.sessions() as session:
        assert set(session.scalars(select(Lead.crm_status))) == {"done"}
        assert all(session.scalars(select(Person.crm_contact_id)))


def test_contact_created_meanwhile_is_updated_not_duplicated(tracked, hubspot):
    """A contact created between lookup and create: that lead updates it, the rest are created.

    The batch's 409 is redone one contact at a time.
    """
    client, runtime, source = tracked()
    _leads(client, 3)
    read = source.client.contacts_batch.read
    late: list[str] = []

    def read_then_someone_creates(*args, **kwargs):
        answer = read(*args, **kwargs)
        late.append(hubspot.add_contact({"email": "lead1@example.com"}))
        return answer

    source.client.contacts_batch.read = read_then_someone_creates
    counts = process_pending(runtime, source, utcnow())
    assert counts == {"claimed": 3, "written": 3, "retry": 0, "failed": 0}
    emails = sorted(p["email"].lower() for p in hubspot.contacts.values())
    assert emails == ["lead0@example.com", "lead1@example.com", "lead2@example.com"]
    assert hubspot.contacts[late[0]]["closedloop_visitor_id"] == "visitor-00000001"


def test_one_refused_contact_fails_alone(tracked, hubspot):
    """A contact HubSpot refuses (an unknown property) fails alone; the others are written."""
    client, runtime, source = tracked()
    _leads(client, 3)
    create = source.client.contacts_batch.create

    def refuse_lead2(batch, **kwargs):
        for item in batch.inputs:
            if item.properties.get("email") == "lead2@example.com":
                item.properties["no_such_property"] = "x"
        return create(batch, **kwargs)

    source.client.contacts_batch.create = refuse_lead2
    counts = process_pending(runtime, source, utcnow())
    assert counts == {"claimed": 3, "written": 2, "retry": 0, "failed": 1}
    with runtime.sessions() as session:
        statuses = dict(session.execute(select(Lead.visitor_id, Lead.crm_status)).all())
    assert statuses == {
        "visitor-00000000": "done",
        "visitor-00000001": "done",
        "visitor-00000002": "failed",
    }


CALL_AUTH = {"Authorization": "Bearer test-trigger-token"}


@pytest.mark.parametrize("store_plain_email", [False, True])
def test_repeat_call_updates_the_known_contact(tracked, hubspot, store_plain_email):
    """A call after a written form lead updates that contact; no second, email-less one."""
    client, runtime, source = tracked({"tracking": {"store_plain_email": store_plain_email}})
    client.post("/collect", json={"visitor_id": LAPTOP, "url": "https://shop.example/?gclid=G-1"})
    client.post(
        "/identify", json={"visitor_id": LAPTOP, "email": "jane@example.com", "phone": "4155550123"}
    )
    assert process_pending(runtime, source, utcnow())["written"] == 1
    [contact_id] = hubspot.contacts
    client.post("/collect", json={"visitor_id": PHONE, "url": "https://shop.example/pricing"})
    answer = client.post(
        "/identify",
        json={"kind": "call", "phone": "+1 415 555 0123", "visitor_id": PHONE},
        headers=CALL_AUTH,
    )
    assert answer.status_code == 202, answer.get_json()
    assert process_pending(runtime, source, utcnow())["written"] == 1
    assert list(hubspot.contacts) == [contact_id]
    assert hubspot.contacts[contact_id]["email"] == "jane@example.com"
    assert hubspot.contacts[contact_id]["closedloop_visitor_id"] == PHONE
    with runtime.sessions() as session:
        assert session.scalars(select(Person.crm_contact_id)).one() == contact_id


OFFICE = "+14155550100"


def _identify(client, **body) -> None:
    headers = CALL_AUTH if body.get("kind") == "call" else {}
    answer = client.post("/identify", json=body, headers=headers)
    assert answer.status_code == 202, answer.get_json()


def _ours(hubspot) -> dict[str, dict]:
    """The contacts closedloop wrote (they carry a visitor ID)."""
    return {cid: p for cid, p in hubspot.contacts.items() if p.get("closedloop_visitor_id")}


def test_deleted_known_contact_is_looked_up_again(tracked, hubspot):
    """A stored contact ID HubSpot no longer has is found again by email, else created once."""
    client, runtime, source = tracked()
    _identify(client, visitor_id=LAPTOP, email="jane@example.com")
    process_pending(runtime, source, utcnow())
    [gone] = hubspot.contacts
    source.client.contacts_basic.archive(gone)
    _identify(client, visitor_id=PHONE, email="jane@example.com")
    assert process_pending(runtime, source, utcnow())["written"] == 1
    [contact_id] = hubspot.contacts
    assert contact_id != gone
    assert hubspot.contacts[contact_id]["email"] == "jane@example.com"
    with runtime.sessions() as session:
        assert session.scalars(select(Person.crm_contact_id)).one() == contact_id


def test_call_is_written_onto_the_contact_with_its_phone(tracked, hubspot):
    """A caller HubSpot knows by phone only (entered by sales) gets no second contact."""
    existing = hubspot.add_contact({"firstname": "Jane", "phone": "+14155550123"})
    client, runtime, source = tracked()
    _identify(client, kind="call", phone="(415) 555-0123", visitor_id=LAPTOP)
    assert process_pending(runtime, source, utcnow())["written"] == 1
    assert list(hubspot.contacts) == [existing]
    assert hubspot.contacts[existing]["closedloop_visitor_id"] == LAPTOP
    with runtime.sessions() as session:
        assert session.scalars(select(Person.crm_contact_id)).one() == existing


def test_phone_match_without_email_gets_the_email(tracked, hubspot):
    """A form lead whose phone HubSpot has on an email-less contact completes that contact."""
    existing = hubspot.add_contact({"phone": "+14155550123"})
    client, runtime, source = tracked()
    _identify(client, visitor_id=LAPTOP, email="jane@example.com", phone="4155550123")
    assert process_pending(runtime, source, utcnow())["written"] == 1
    assert list(hubspot.contacts) == [existing]
    assert hubspot.contacts[existing]["email"] == "jane@example.com"


def test_shared_office_line_is_not_merged(tracked, hubspot):
    """Someone else's contact with the same phone (another email) is left alone."""
    boss = hubspot.add_contact({"email": "boss@example.com", "phone": OFFICE})
    client, runtime, source = tracked()
    _identify(client, visitor_id=LAPTOP, email="jane@example.com", phone=OFFICE)
    _identify(client, visitor_id=PHONE, email="joe@example.com", phone=OFFICE)
    assert process_pending(runtime, source, utcnow())["written"] == 2
    emails = sorted(p.get("email") for p in hubspot.contacts.values())
    assert emails == ["boss@example.com", "jane@example.com", "joe@example.com"]
    assert not hubspot.contacts[boss].get("closedloop_visitor_id")


def test_contact_found_by_visitor_id(tracked, hubspot):
    """A contact holding the person's visitor ID (written before the database was restored)."""
    existing = hubspot.add_contact({"closedloop_visitor_id": LAPTOP, "firstname": "Jane"})
    client, runtime, source = tracked()
    _identify(client, visitor_id=LAPTOP, email="jane@example.com")
    assert process_pending(runtime, source, utcnow())["written"] == 1
    assert list(hubspot.contacts) == [existing]
    assert hubspot.contacts[existing]["email"] == "jane@example.com"


def test_failed_lookup_retries_instead_of_creating(tracked, hubspot):
    """When the phone search fails, the lead waits for a retry; nothing is created blind."""
    existing = hubspot.add_contact({"phone": "+14155550123"})
    client, runtime, source = tracked()
    source.ensure_contact_properties(
        dict(load_profile(runtime.settings).writeback.properties), "closedloop"
    )
    _identify(client, kind="call", phone="4155550123", visitor_id=LAPTOP)
    hubspot.faults = FaultPlan(script={1: Fault.SERVER_ERROR})  # the pass's only call: search
    assert process_pending(runtime, source, utcnow())["retry"] == 1
    assert list(hubspot.contacts) == [existing]
    hubspot.faults = FaultPlan.none()
    assert process_pending(runtime, source, utcnow() + timedelta(hours=1))["written"] == 1
    assert list(hubspot.contacts) == [existing]


def test_a_person_is_written_by_one_pass_at_a_time(tracked, hubspot):
    """While one pass holds a person's lead, another pass does not claim their new lead."""
    client, runtime, _ = tracked()
    _identify(client, kind="call", phone="4155550123", visitor_id=LAPTOP)
    now = utcnow()
    assert len(claim(runtime, now, 10)) == 1
    _identify(client, kind="call", phone="4155550123", visitor_id=PHONE)
    assert claim(runtime, now, 10) == []
    assert len(claim(runtime, now + timedelta(minutes=6), 10)) == 2  # the holder died


def test_visitor_id_of_simultaneous_leads_is_the_last_sent(tracked, hubspot):
    """Two leads at the same moment (one form, two devices): the later one's device is written."""
    client, runtime, source = tracked()
    ts = int(utcnow().timestamp() * 1000)
    _identify(client, visitor_id=LAPTOP, email="jane@example.com", ts=ts)
    _identify(client, visitor_id=PHONE, email="jane@example.com", ts=ts)
    assert process_pending(runtime, source, utcnow())["written"] == 2
    [props] = hubspot.contacts.values()
    assert props["closedloop_visitor_id"] == PHONE
