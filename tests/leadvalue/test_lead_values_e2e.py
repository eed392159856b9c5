"""Lead -> MQL -> SQL -> won through the HubSpot sandbox, the three ad platforms' sandboxes.

History (the store as earlier syncs left it, 60-100 days ago): five people became leads, four
on Paid Search (campaign ``brand``), one on Organic Search; of the Paid Search ones, h1 and h2
reached MQL and SQL and won deals of 4,000 and 2,000, h3 reached MQL only; the Organic one (h5)
reached MQL. With ``prior_weight: 2`` the values are, by hand:

- lead: 5 leads, 6,000 -> overall 1,200; Paid Search (6000 + 2*1200)/(4+2) = 1,400;
  campaign brand (the same four leads) 1,400.
- MQL: 4 MQLs, 6,000 -> overall 1,500; Paid Search (6000 + 2*1500)/(3+2) = 1,800.
- SQL: 2 SQLs, 6,000 -> overall 3,000; Paid Search (6000 + 2*3000)/(2+2) = 3,000.

Ann then clicks a Paid Search ``brand`` ad, fills a form (lead), and HubSpot moves her to MQL,
then SQL, then her deal of 5,000 is won: each step reaches Google Ads (its own conversion
action per stage), Meta and GA4 at the next run with those values, and the purchase at close.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from connector.identity import email_key
from connector.leadvalue.step import LeadValueStep
from connector.outbox.step import DeliverStep
from connector.runs import RunService, get_run
from connector.runtime import Runtime
from connector.storage.models import (
    ClickId,
    Conversion,
    Deal,
    Lead,
    LeadPrediction,
    LeadValue,
    LifecycleEvent,
    Person,
    Touchpoint,
    Visitor,
)
from connector.sync import SyncStep
from connector.sync.lifecycle import LifecycleStep
from platforms.ga4.sandbox import GA4Sandbox
from platforms.google_ads.sandbox import GoogleAdsSandbox
from platforms.hubspot.sandbox import HubSpotSandbox
from platforms.meta.sandbox import MetaSandbox

NOW = datetime.now(UTC).replace(microsecond=0)
#: Just now, but never before today (UTC): today's leads never teach their own value.
JUST_NOW = max(NOW - timedelta(hours=1), NOW.replace(hour=0, minute=0, second=0))
ACTIONS = {"lead": "700000011", "lead_mql": "700000012", "lead_sql": "700000013"}


def _events() -> list[dict[str, Any]]:
    """The profile's events with a Google Ads conversion action per lead stage."""
    rules = [
        {
            "name": "closed_won",
            "when": {"deal_won": True},
            "value": "deal_amount",
            "platforms": {"google_ads": {}, "ga4": {"event_name": "purchase"}, "meta": {}},
        }
    ]
    names = {"lead": ("generate_lead", "Lead"), "mql": ("qualify_lead", "MarketingQualifiedLead")}
    names["sql"] = ("close_convert_lead", "SalesQualifiedLead")
    for stage, rule in (("lead", "lead"), ("mql", "lead_mql"), ("sql", "lead_sql")):
        ga4, meta = names[stage]
        rules.append(
            {
                "name": rule,
                "when": {"lead_stage": stage},
                "value": "lead_value",
                "platforms": {
                    "google_ads": {"conversion_action_id": ACTIONS[rule]},
                    "ga4": {"event_name": ga4},
                    "meta": {"event_name": meta},
                },
            }
        )
    return rules


@pytest.fixture
def boxes() -> Iterator[dict[str, Any]]:
    """HubSpot and the three destination sandboxes, on the real clock."""
    google = GoogleAdsSandbox()
    for action in ACTIONS.values():
        google.add_conversion_action(action)
    with HubSpotSandbox().start() as hubspot, google, MetaSandbox() as meta, GA4Sandbox() as ga4:
        yield {"hubspot": hubspot, "google_ads": google, "meta": meta, "ga4": ga4}


@pytest.fixture
def runtime(make_settings, boxes) -> Iterator[Runtime]:
    """A runtime with lead values on (k = 2) and every sandbox configured."""
    settings = make_settings(
        {
            "platforms": {name: box.platform_config() for name, box in boxes.items()},
            "mapping": {
                "overrides": {
                    "events": _events(),
                    "lead_values": {"enabled": True, "prior_weight": 2},
                }
            },
        }
    )
    rt = Runtime.from_settings(settings)
    yield rt
    rt.close()


def run(runtime: Runtime) -> dict[str, Any]:
    """One scheduled run's steps that matter here: sync, lifecycle, lead values, deliver."""
    steps = [SyncStep(), LifecycleStep(), LeadValueStep(), DeliverStep()]
    run_id, status = RunService(runtime, steps=steps).run_now("test")
    found = get_run(runtime, run_id)
    assert found is not None and status == "succeeded", (status, found and found.error)
    return {"counts": found.counts, "summary": found.summary}


def _person(session: Any, email: str, contact: str | None, *, consent: bool = True) -> str:
    person = Person(email_sha256=email_key(email), email=email, crm_contact_id=contact)
    session.add(person)
    session.flush()
    vid = f"v-{email.split('@')[0]}"
    session.add(
        Visitor(
            id=vid,
            person_id=person.id,
            first_seen_at=NOW - timedelta(days=150),
            last_seen_at=NOW,
            ga_client_id=f"{person.id}11.1700000000",
            fbp=f"fb.1.1700000000000.{person.id}4242",
            consent_ad_user_data=consent,
            consent_ad_personalization=consent,
        )
    )
    session.flush()
    return vid


def _touch(session: Any, vid: str, at: datetime, channel: str, gclid: str | None = None) -> None:
    tp = Touchpoint(
        visitor_id=vid,
        occurred_at=at,
        url="https://example.com/pricing",
        channel=channel,
        source="google",
        medium="cpc" if gclid else "organic",
        campaign="brand" if gclid else None,
        click_ids={"gclid": gclid} if gclid else None,
    )
    session.add(tp)
    session.flush()
    if gclid:
        session.add(
            ClickId(
                visitor_id=vid, kind="gclid", value=gclid, first_seen_at=at, touchpoint_id=tp.id
            )
        )


def seed_history(runtime: Runtime) -> None:
    """Five past leads, three MQLs on Paid Search and one on Organic, two won deals."""
    day = timedelta(days=1)
    with runtime.sessions.begin() as s:
        for n in range(1, 6):
            paid = n != 5
            vid = _person(s, f"past{n}@example.com", f"h{n}")
            _touch(
                s,
                vid,
                NOW - 101 * day,
                "Paid Search" if paid else "Organic Search",
                f"G-P{n}" if paid else None,
            )
            person_id = s.scalar(select(Person.id).where(Person.crm_contact_id == f"h{n}"))
            s.add(Lead(person_id=person_id, visitor_id=vid, occurred_at=NOW - 100 * day))
        for contact, stages in {
            "h1": ("mql", "sql"),
            "h2": ("mql", "sql"),
            "h3": ("mql",),
            "h5": ("mql",),
        }.items():
            for i, stage in enumerate(stages):
                s.add(
                    LifecycleEvent(
                        contact_id=contact,
                        stage=stage,
                        email_sha256=email_key(f"past{contact[1:]}@example.com"),
                        entered_at=NOW - (95 - 5 * i) * day,
                        updated_at=NOW,
                    )
                )
        for n, amount in ((1, "4000"), (2, "2000")):
            s.add(
                Deal(
                    id=f"past-{n}",
                    is_won=True,
                    is_closed=True,
                    amount=Decimal(amount),
                    currency="USD",
                    close_time=NOW - 60 * day,
                    contact_ids=[f"h{n}"],
                    modified_time=NOW - 60 * day,
                )
            )


def received(boxes: dict[str, Any]) -> dict[str, list[tuple[str, Any]]]:
    """(event or action, value) of every item each destination kept."""
    google = [
        (i["conversion_action_id"], Decimal(str(i["value"]))) for i in boxes["google_ads"].accepted
    ]
    meta = [
        (i["event_name"], Decimal(str(i["custom_data"].get("value"))))
        for i in boxes["meta"].accepted
    ]
    ga4 = [(i["name"], Decimal(str(i["value"]))) for i in boxes["ga4"].accepted]
    return {"google_ads": google, "meta": meta, "ga4": ga4}


def test_lead_mql_sql_then_won_reach_every_platform_once(runtime, boxes):
    """Each stage is sent at the next run with its learned value; the purchase at close."""
    seed_history(runtime)
    hubspot: HubSpotSandbox = boxes["hubspot"]
    contact = hubspot.add_contact({"email": "ann@example.com", "lifecyclestage": "lead"})
    with runtime.sessions.begin() as s:
        vid = _person(s, "ann@example.com", contact)
        _touch(s, vid, NOW - timedelta(days=2), "Paid Search", "G-ANN")
        person_id = s.scalar(select(Person.id).where(Person.crm_contact_id == contact))
        s.add(Lead(person_id=person_id, visitor_id=vid, occurred_at=JUST_NOW))
    boxes["google_ads"].know_click("gclid", "G-ANN", NOW - timedelta(days=2))

    first = run(runtime)
    assert first["counts"]["lead_conversions_planned"] == 3
    assert sorted(received(boxes)["google_ads"]) == [(ACTIONS["lead"], Decimal("1400"))]
    assert received(boxes)["meta"] == [("Lead", Decimal("1400"))]
    assert received(boxes)["ga4"] == [("generate_lead", Decimal("1400"))]
    lead_event = boxes["meta"].accepted[0]
    assert lead_event["action_source"] == "system_generated"
    assert lead_event["custom_data"]["event_source"] == "crm"
    assert lead_event["custom_data"]["lead_event_source"] == "HubSpot"

    hubspot.update_contact(contact, lifecyclestage="marketingqualifiedlead")
    run(runtime)
    hubspot.update_contact(contact, lifecyclestage="salesqualifiedlead")
    run(runtime)
    got = received(boxes)
    assert sorted(got["google_ads"]) == sorted(
        [
            (ACTIONS["lead"], Decimal("1400")),
            (ACTIONS["lead_mql"], Decimal("1800")),
            (ACTIONS["lead_sql"], Decimal("3000")),
        ]
    )
    assert got["meta"] == [
        ("Lead", Decimal("1400")),
        ("MarketingQualifiedLead", Decimal("1800")),
        ("SalesQualifiedLead", Decimal("3000")),
    ]
    assert got["ga4"] == [
        ("generate_lead", Decimal("1400")),
        ("qualify_lead", Decimal("1800")),
        ("close_convert_lead", Decimal("3000")),
    ]

    close = (NOW - timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    hubspot.add_deal(
        {
            "dealname": "Ann",
            "amount": "5000",
            "deal_currency_code": "USD",
            "closedate": close,
            "dealstage": "closedwon",
        },
        [contact],
    )
    run(runtime)
    got = received(boxes)
    assert got["meta"][-1] == ("Purchase", Decimal("5000"))
    assert got["ga4"][-1] == ("purchase", Decimal("5000"))
    assert (boxes["google_ads"].conversion_action_id, Decimal("5000")) in got["google_ads"]
    assert [len(v) for v in got.values()] == [4, 4, 4]

    again = run(runtime)
    assert again["counts"]["lead_conversions_planned"] == 0
    assert received(boxes) == got  # nothing sent twice
    with runtime.sessions() as s:
        stored = {(v.stage, v.channel, v.campaign): v for v in s.scalars(select(LeadValue))}
        predictions = s.scalars(select(LeadPrediction).order_by(LeadPrediction.id)).all()
    mql = stored[("mql", "Paid Search", "")]
    assert (mql.n, mql.revenue, mql.prior_weight, mql.overall, mql.value) == (
        3,
        Decimal("6000"),
        Decimal("2"),
        Decimal("1500"),
        Decimal("1800"),
    )
    assert [(p.stage, p.value, p.rows_planned) for p in predictions] == [
        ("lead", Decimal("1400"), 3),
        ("mql", Decimal("1800"), 3),
        ("sql", Decimal("3000"), 3),
    ]


#: A Meta lead ad's lead ID (Meta: the lead's ``leadgen_id``, a 15 or 16 digit number).
META_LEAD = "123456789012345"


def test_meta_lead_form_id_reaches_meta_only_for_the_contact_that_has_one(make_settings, boxes):
    """The contact's mapped lead-form ID is Meta's user_data.lead_id at MQL; none without one."""
    settings = make_settings(
        {
            "platforms": {name: box.platform_config() for name, box in boxes.items()},
            "mapping": {
                "overrides": {
                    "events": _events(),
                    "lead_values": {"enabled": True, "prior_weight": 2},
                    "lifecycle": {"lead_id": "meta_lead_id"},
                }
            },
        }
    )
    runtime = Runtime.from_settings(settings)
    try:
        seed_history(runtime)
        hubspot: HubSpotSandbox = boxes["hubspot"]
        with_id = hubspot.add_contact(
            {"email": "fay@example.com", "lifecyclestage": "lead", "meta_lead_id": META_LEAD}
        )
        without = hubspot.add_contact({"email": "gus@example.com", "lifecyclestage": "lead"})
        with runtime.sessions.begin() as s:
            for email, contact in (("fay@example.com", with_id), ("gus@example.com", without)):
                vid = _person(s, email, contact)
                _touch(s, vid, NOW - timedelta(days=2), "Paid Search", f"G-{contact}")
        run(runtime)
        assert boxes["meta"].accepted == []  # no site lead, no stage yet
        hubspot.update_contact(with_id, lifecyclestage="marketingqualifiedlead")
        hubspot.update_contact(without, lifecyclestage="marketingqualifiedlead")
        run(runtime)
        with runtime.sessions() as s:
            query = select(LifecycleEvent.contact_id, LifecycleEvent.crm_lead_id)
            stored = {c: lead for c, lead in s.execute(query)}
            rows = s.scalars(select(Conversion).where(Conversion.destination != "meta")).all()
        assert stored[with_id] == META_LEAD and stored[without] is None
        events = {e["user_data"].get("em", [None])[0]: e for e in boxes["meta"].accepted}
        assert [e["event_name"] for e in events.values()] == ["MarketingQualifiedLead"] * 2
        fay = events[hashlib.sha256(b"fay@example.com").hexdigest()]
        gus = events[hashlib.sha256(b"gus@example.com").hexdigest()]
        assert fay["user_data"]["lead_id"] == META_LEAD
        assert "lead_id" not in gus["user_data"]
        assert fay["action_source"] == "system_generated"
        assert rows and all("crm_lead_id" not in r.identifiers for r in rows)

        from connector.tracking.forget import erase

        erase(runtime, email="fay@example.com")
        with runtime.sessions() as s:
            left = s.scalars(
                select(LifecycleEvent.crm_lead_id).where(LifecycleEvent.contact_id == with_id)
            ).all()
            (fay_row,) = s.scalars(
                select(Conversion).where(
                    Conversion.destination == "meta", Conversion.deal_id == f"lead:c{with_id}"
                )
            ).all()
        assert left == []
        assert META_LEAD not in str(fay_row.identifiers)
    finally:
        runtime.close()


def test_consent_denied_visitor_leads_are_skipped(runtime, boxes):
    """A person who denied ad_user_data gets no lead conversion anywhere, only a reason."""
    seed_history(runtime)
    with runtime.sessions.begin() as s:
        vid = _person(s, "bob@example.com", None, consent=False)
        _touch(s, vid, NOW - timedelta(days=2), "Paid Search", "G-BOB")
        person_id = s.scalar(select(Person.id).where(Person.email == "bob@example.com"))
        s.add(Lead(person_id=person_id, visitor_id=vid, occurred_at=JUST_NOW))
    boxes["google_ads"].know_click("gclid", "G-BOB", NOW - timedelta(days=2))
    result = run(runtime)
    assert result["counts"]["lead_conversions_planned"] == 0
    assert result["summary"]["lead_values"]["not_planned"] == {"consent denied (ad_user_data)": 3}
    assert received(boxes) == {"google_ads": [], "meta": [], "ga4": []}
    with runtime.sessions() as s:
        assert s.scalars(select(Conversion)).all() == []
        (prediction,) = s.scalars(select(LeadPrediction)).all()
    assert (prediction.stage, prediction.rows_planned) == ("lead", 0)


def test_forget_removes_predictions_and_scrubs_lead_rows(runtime, boxes):
    """A privacy request deletes the person's predictions and scrubs their lead rows."""
    from connector.tracking.forget import erase

    seed_history(runtime)
    with runtime.sessions.begin() as s:
        vid = _person(s, "cy@example.com", None)
        _touch(s, vid, NOW - timedelta(days=2), "Paid Search", "G-CY")
        person_id = s.scalar(select(Person.id).where(Person.email == "cy@example.com"))
        s.add(Lead(person_id=person_id, visitor_id=vid, occurred_at=JUST_NOW))
    boxes["google_ads"].know_click("gclid", "G-CY", NOW - timedelta(days=2))
    assert run(runtime)["counts"]["lead_conversions_planned"] == 3
    report = erase(runtime, email="cy@example.com")
    assert report["removed"]["lead_predictions"] == 1
    assert report["outbox"]["scrubbed"] == 3
    with runtime.sessions() as s:
        rows = s.scalars(select(Conversion).where(Conversion.deal_id == f"lead:p{person_id}")).all()
    assert len(rows) == 3
    assert all(email_key("cy@example.com") not in str(r.identifiers) for r in rows)
    assert all("email_sha256" not in r.identifiers for r in rows)


def test_dry_run_plans_and_stores_nothing(runtime, boxes):
    """A dry run reports the lead rows it would plan, then rolls everything back."""
    seed_history(runtime)
    with runtime.sessions.begin() as s:
        vid = _person(s, "dee@example.com", None)
        _touch(s, vid, NOW - timedelta(days=2), "Paid Search", "G-DEE")
        person_id = s.scalar(select(Person.id).where(Person.email == "dee@example.com"))
        s.add(Lead(person_id=person_id, visitor_id=vid, occurred_at=JUST_NOW))
    steps = [LeadValueStep()]
    run_id, status = RunService(runtime, steps=steps).run_now("test", dry_run=True)
    found = get_run(runtime, run_id)
    assert status == "succeeded" and found is not None
    assert found.counts["lead_conversions_planned"] == 3
    with runtime.sessions() as s:
        assert s.scalars(select(Conversion)).all() == []
        assert s.scalars(select(LeadPrediction)).all() == []
        assert s.scalars(select(LeadValue)).all() == []
    assert received(boxes) == {"google_ads": [], "meta": [], "ga4": []}
