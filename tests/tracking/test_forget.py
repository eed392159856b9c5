"""Erase: POST /privacy/forget and `closedloop forget` remove a person everywhere."""

from __future__ import annotations

import json
from decimal import Decimal

import yaml
from click.testing import CliRunner
from sqlalchemy import select

from connector.cli import cli
from connector.identity import email_key
from connector.storage.models import Conversion, Deal, LifecycleEvent, Person, utcnow

AUTH = {"Authorization": "Bearer test-trigger-token"}
LAPTOP, PHONE, OTHER = "laptop-0000000001", "phone-00000000002", "other-00000000003"


def _journeys(client, page_view):
    """Jane on two devices with a gclid; Olga on a third device."""
    client.post("/collect", json=page_view(visitor_id=LAPTOP))
    client.post("/collect", json=page_view(visitor_id=LAPTOP, url="https://shop.example/b"))
    client.post("/identify", json={"visitor_id": LAPTOP, "email": "jane@x.example"})
    client.post("/collect", json=page_view(visitor_id=PHONE, url="https://shop.example/?fbclid=F1"))
    client.post("/identify", json={"visitor_id": PHONE, "email": "JANE@x.example"})
    client.post("/collect", json=page_view(visitor_id=OTHER, url="https://shop.example/?gclid=O"))
    client.post("/identify", json={"visitor_id": OTHER, "email": "olga@x.example"})


def _conversion(deal_id: str, key: str, status: str) -> Conversion:
    return Conversion(
        deal_id=deal_id,
        destination="meta",
        event_name="Purchase",
        dedup_key=key,
        value=Decimal("10"),
        currency="USD",
        event_time=utcnow(),
        identifiers={"em": "hash"},
        status=status,
    )


def _deals_for(runtime, contact_id: str) -> None:
    """Jane is CRM contact ``contact_id`` with a deal that has one pending, one sent conversion."""
    with runtime.sessions.begin() as session:
        jane = session.scalars(select(Person).order_by(Person.id)).first()
        jane.crm_contact_id = contact_id
        session.add(Deal(id="D1", contact_ids=["99", contact_id]))
        session.add(Deal(id="D2", contact_ids=["777"]))
        session.add(_conversion("D1", "k1", "pending"))
        session.add(_conversion("D1", "k2", "accepted"))
        session.add(_conversion("D2", "k3", "pending"))
        # Lifecycle milestones pulled from the CRM: Jane's by contact ID and by email (a second
        # CRM contact with her address), and Olga's, which must stay.
        for contact, email, stage in (
            (contact_id, None, "mql"),
            ("602", "jane@x.example", "sql"),
            ("603", "olga@x.example", "mql"),
        ):
            session.add(
                LifecycleEvent(
                    contact_id=contact,
                    stage=stage,
                    email_sha256=email_key(email) if email else None,
                    entered_at=utcnow(),
                )
            )


def test_forget_by_email_removes_everything(client, runtime, page_view, row_counts):
    """Erase by email removes both devices, touchpoints, click IDs and leads.

    The outbox rows of Jane's deal lose their identifiers (the unsent one is withdrawn);
    the other deal's are kept.
    """
    _journeys(client, page_view)
    _deals_for(runtime, "501")
    response = client.post("/privacy/forget", json={"email": "Jane@X.example"}, headers=AUTH)
    assert response.status_code == 200
    report = response.get_json()
    assert report["removed"] == {
        "attributions": 0,
        "click_ids": 2,
        "touchpoints": 3,
        "leads": 2,
        "visitors": 2,
        "lifecycle_events": 2,
        "persons": 1,
        "revenue_sales": 0,
        "lead_predictions": 0,
    }
    assert row_counts(runtime) == {
        "visitors": 1,
        "touchpoints": 1,
        "click_ids": 1,
        "persons": 1,
        "leads": 1,
    }
    assert report["outbox"] == {"scrubbed": 1, "withdrawn": 1}
    with runtime.sessions() as session:
        left = {
            c.dedup_key: (c.status, c.reason_code, c.identifiers, c.value)
            for c in session.scalars(select(Conversion))
        }
    assert left == {
        "k1": ("skipped", "erased", {}, Decimal("10")),
        "k2": ("accepted", None, {}, Decimal("10")),
        "k3": ("pending", None, {"em": "hash"}, Decimal("10")),
    }
    with runtime.sessions() as session:
        assert list(session.scalars(select(LifecycleEvent.contact_id))) == ["603"]


def test_forget_by_visitor_takes_the_person(client, runtime, page_view, row_counts):
    """Erase by one device's visitor ID removes the person and their other device too."""
    _journeys(client, page_view)
    response = client.post("/privacy/forget", json={"visitor_id": PHONE}, headers=AUTH)
    removed = response.get_json()["removed"]
    assert (removed["visitors"], removed["persons"], removed["leads"]) == (2, 1, 2)
    assert row_counts(runtime)["visitors"] == 1


def test_forget_unknown_reports_zero(client):
    """Erasing someone never seen is fine and reports zeros everywhere."""
    response = client.post("/privacy/forget", json={"email": "nobody@x.example"}, headers=AUTH)
    assert response.status_code == 200
    report = response.get_json()
    assert set(report["removed"].values()) == {0}
    assert report["outbox"] == {"scrubbed": 0, "withdrawn": 0}
    assert report["places"] == {} and report["complete"] is True
    assert report["outstanding"] == {"pending": 0, "failed": 0}


def test_forget_twice_finds_nothing_the_second_time(client, runtime, page_view):
    """Idempotent: the second request for the same person succeeds and reports zeros."""
    _journeys(client, page_view)
    _deals_for(runtime, "501")
    first = client.post("/privacy/forget", json={"email": "jane@x.example"}, headers=AUTH)
    assert first.get_json()["removed"]["persons"] == 1
    second = client.post("/privacy/forget", json={"email": "jane@x.example"}, headers=AUTH)
    assert second.status_code == 200
    report = second.get_json()
    assert set(report["removed"].values()) == {0}
    assert report["outbox"] == {"scrubbed": 0, "withdrawn": 0}


def test_openapi_describes_the_report(client):
    """The 200 answer of /privacy/forget is the ForgetReport schema, with its places."""
    doc = client.get("/openapi.json").get_json()
    ok = doc["paths"]["/privacy/forget"]["post"]["responses"]["200"]
    ref = ok["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/ForgetReport"
    schema = doc["components"]["schemas"]["ForgetReport"]
    assert set(schema["required"]) == {"removed", "outbox", "places", "complete", "outstanding"}
    place = doc["components"]["schemas"]["ForgetPlace"]
    assert {"asked", "done", "pending", "failed", "erased", "errors"} <= set(place["properties"])


def test_forget_needs_token_and_one_key(client):
    """No token is 401; both or neither key is a 400."""
    assert client.post("/privacy/forget", json={"email": "a@b.example"}).status_code == 401
    both = client.post(
        "/privacy/forget", json={"email": "a@b.example", "visitor_id": LAPTOP}, headers=AUTH
    )
    assert both.status_code == 400
    assert client.post("/privacy/forget", json={}, headers=AUTH).status_code == 400


def test_cli_forget(client, runtime, page_view, row_counts, db_url, tmp_path):
    """`closedloop forget --email` erases and prints the counts; bad usage exits 2."""
    _journeys(client, page_view)
    config = tmp_path / "closedloop.yaml"
    config.write_text(yaml.safe_dump({"database": {"url": db_url}}))
    runner = CliRunner()
    result = runner.invoke(cli, ["-c", str(config), "forget", "--email", "olga@x.example"])
    assert result.exit_code == 0, result.output
    assert "visitors: 1" in result.output and "persons: 1" in result.output
    assert row_counts(runtime)["visitors"] == 2
    result = runner.invoke(cli, ["-c", str(config), "forget", "--visitor", LAPTOP, "--json"])
    assert result.exit_code == 0
    assert '"persons": 1' in result.output
    assert row_counts(runtime) == dict.fromkeys(row_counts(runtime), 0)
    assert runner.invoke(cli, ["-c", str(config), "forget"]).exit_code == 2
    both = ["-c", str(config), "forget", "--retry", "--email", "a@b.example"]
    assert runner.invoke(cli, both).exit_code == 2
    assert runner.invoke(cli, ["-c", str(config), "forget", "--failed"]).exit_code == 2
    result = runner.invoke(cli, ["-c", str(config), "forget", "--retry", "--failed", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"revived": 0, "outstanding": {"pending": 0, "failed": 0}}
