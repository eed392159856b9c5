"""POST /identify: people, devices, calls; the plain email only when configured."""

from __future__ import annotations

from sqlalchemy import select

from connector.identity import email_key
from connector.storage.models import Lead, Person, Visitor, utcnow

AUTH = {"Authorization": "Bearer test-trigger-token"}
LAPTOP, PHONE = "laptop-0000000001", "phone-00000000002"


def _people(runtime):
    with runtime.sessions() as session:
        return list(session.scalars(select(Person).order_by(Person.id)))


def test_identify_links_visitor_and_records_lead(client, runtime, page_view):
    """A form identify ties the visitor to a person keyed by email hash; a pending lead."""
    client.post("/collect", json=page_view(visitor_id=LAPTOP))
    response = client.post(
        "/identify",
        json={
            "visitor_id": LAPTOP,
            "email": "  Jane.Doe@Example.COM ",
            "phone": "(415) 555-0123",
            "page_url": "https://shop.example/contact",
        },
    )
    assert response.status_code == 202
    [person] = _people(runtime)
    assert person.email_sha256 == email_key("jane.doe@example.com")
    assert person.email is None  # store_plain_email is off and HubSpot is off
    assert person.phone_e164 == "+14155550123"
    with runtime.sessions() as session:
        assert session.get(Visitor, LAPTOP).person_id == person.id
        lead = session.scalars(select(Lead)).one()
    assert (lead.kind, lead.crm_status, lead.visitor_id) == ("form", "pending", LAPTOP)
    assert lead.page_url == "https://shop.example/contact"
    assert response.get_json()["lead_id"] == lead.id


def test_plain_email_stored_when_configured(make_client):
    """tracking.store_plain_email keeps the normalised address."""
    client, runtime = make_client({"tracking": {"store_plain_email": True}})
    client.post("/identify", json={"visitor_id": LAPTOP, "email": "Jane@Example.com"})
    assert _people(runtime)[0].email == "jane@example.com"


def test_second_device_merges_journeys(client, runtime, page_view):
    """The same email on a new device links that visitor to the same person."""
    client.post("/collect", json=page_view(visitor_id=LAPTOP))
    client.post("/identify", json={"visitor_id": LAPTOP, "email": "jane@gmail.com"})
    client.post("/collect", json=page_view(visitor_id=PHONE, url="https://shop.example/"))
    client.post("/identify", json={"visitor_id": PHONE, "email": "Jane@Gmail.com"})
    client.post("/identify", json={"visitor_id": PHONE, "email": "j.a.n.e@gmail.com"})
    [person] = _people(runtime)
    with runtime.sessions() as session:
        owners = set(session.scalars(select(Visitor.person_id)))
        leads = session.scalars(select(Lead)).all()
    assert owners == {person.id}
    assert len(leads) == 3
    assert {lead.person_id for lead in leads} == {person.id}


def test_different_emails_are_different_people(client, runtime):
    """Two emails make two people, even sharing an office phone."""
    office = "+1 415 555 0100"
    client.post("/identify", json={"visitor_id": LAPTOP, "email": "a@x.example", "phone": office})
    client.post("/identify", json={"visitor_id": PHONE, "email": "b@x.example", "phone": office})
    assert len(_people(runtime)) == 2


def test_call_matched_by_phone(client, runtime, page_view):
    """A telephony call (token) finds the person by phone and their latest visitor."""
    client.post("/collect", json=page_view(visitor_id=LAPTOP))
    client.post(
        "/identify", json={"visitor_id": LAPTOP, "email": "jane@x.example", "phone": "4155550123"}
    )
    response = client.post(
        "/identify", json={"kind": "call", "phone": "+1-415-555-0123"}, headers=AUTH
    )
    assert response.status_code == 202
    [person] = _people(runtime)
    with runtime.sessions() as session:
        call = session.scalars(select(Lead).where(Lead.kind == "call")).one()
    assert (call.person_id, call.visitor_id) == (person.id, LAPTOP)


def test_call_from_unknown_number_creates_person(client, runtime):
    """An unknown caller becomes a person keyed by phone, without a visitor."""
    response = client.post(
        "/identify", json={"kind": "call", "phone": "+442079460000"}, headers=AUTH
    )
    assert response.status_code == 202
    [person] = _people(runtime)
    assert person.email_sha256 is None and person.phone_e164 == "+442079460000"


def test_call_needs_token(client, runtime, row_counts):
    """kind=call without the bearer token is a 401 and stores nothing."""
    response = client.post("/identify", json={"kind": "call", "phone": "+14155550123"})
    assert response.status_code == 401
    assert set(row_counts(runtime).values()) == {0}


def test_identify_validation(client, runtime, row_counts):
    """Bad email or phone, missing keys and unknown fields are 400s naming the field."""
    cases = [
        ({"visitor_id": LAPTOP, "email": "not-an-email"}, "email"),
        ({"visitor_id": LAPTOP, "phone": "12"}, "phone"),
        ({"visitor_id": LAPTOP}, "email"),
        ({"email": "a@b.example"}, "visitor_id"),
        ({"visitor_id": LAPTOP, "email": "a@b.example", "name": "Jane"}, "name"),
        ({"visitor_id": LAPTOP, "email": "a@b.example", "kind": "chat"}, "kind"),
        ({"visitor_id": LAPTOP, "email": "a@b.example", "page_url": "javascript:x"}, "page_url"),
    ]
    for body, field in cases:
        response = client.post("/identify", json=body)
        assert response.status_code == 400, body
        assert field in [d["field"] for d in response.get_json()["detail"]], body
    assert set(row_counts(runtime).values()) == {0}


def test_shared_device_belongs_to_the_latest_identify_by_time(client, runtime):
    """Who a shared device belongs to follows the identifies' times, not their arrival order."""
    now_ms = int(utcnow().timestamp() * 1000)
    hour = 3_600_000
    late = {"visitor_id": LAPTOP, "email": "alan@x.example", "ts": now_ms - hour}
    early = {"visitor_id": LAPTOP, "email": "dennis@x.example", "ts": now_ms - 3 * hour}
    for body in (late, early):  # the earlier form arrives last (a replay, a slow client)
        assert client.post("/identify", json=body).status_code == 202
    with runtime.sessions() as session:
        owner = session.get(Person, session.get(Visitor, LAPTOP).person_id)
        leads = session.scalars(select(Lead.visitor_id)).all()
    assert owner.email_sha256 == email_key("alan@x.example")
    assert leads == [LAPTOP, LAPTOP]  # both leads still name the device they came from
    assert client.post("/identify", json={**early, "ts": now_ms}).status_code == 202
    with runtime.sessions() as session:
        owner = session.get(Person, session.get(Visitor, LAPTOP).person_id)
    assert owner.email_sha256 == email_key("dennis@x.example")  # a newer identify takes it
