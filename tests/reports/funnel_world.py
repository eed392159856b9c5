"""A hand-computed lifecycle world for the funnel and velocity tests (November 2026).

=====  ==========================  ============  ======================  =====================
who    touches (channel @ day)     lead          MQL / SQL (CRM times)   deals
=====  ==========================  ============  ======================  =====================
alice  Paid Search @1 00:00,       Nov 1 10:00   MQL Nov 3 10:00,        D1 created Nov 6,
       Paid Search @7 (2nd visit)                SQL Nov 5 10:00         won Nov 11, 1000 USD
bob    Paid Search @2              Nov 2 00:00   MQL Nov 5 00:00         -
carol  Organic Search @2           Nov 2 12:00   no MQL date,            D2 created Nov 9 12:00,
                                                 SQL Nov 8 12:00         open
dave   Paid Search @Oct 20         Oct 20        MQL Oct 25, SQL Nov 10  D3 created Oct 28,
                                                                         won Nov 20, 500 USD
erin   Paid Search @Oct 21         Oct 21        MQL Oct 26, SQL Nov 12  -
(anon) Direct @3                   -             -                       -
=====  ==========================  ============  ======================  =====================

Spend: Google Ads, Paid Search, Nov 1, 300 USD. Every expected figure in the tests is worked
out by hand from this table.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from decimal import Decimal

from connector.identity import email_key
from connector.runtime import Runtime
from connector.storage.models import (
    Deal,
    Lead,
    LifecycleEvent,
    Person,
    SpendDaily,
    Touchpoint,
    Visitor,
)


def at(month: int, day: int, hour: int = 0) -> datetime:
    """A time in 2026 (UTC)."""
    return datetime(2026, month, day, hour, tzinfo=UTC)


def nov(day: int, hour: int = 0) -> datetime:
    """A time in November 2026 (UTC)."""
    return at(11, day, hour)


TOUCH = {
    "Paid Search": {"source": "google", "medium": "cpc", "campaign": "Brand", "term": "acme"},
    "Organic Search": {"source": "google", "medium": "organic"},
    "Direct": {},
}

PEOPLE = {  # name: (person id, contact id, visitor, [(touch time, channel)], lead time)
    "alice": (1, "c-alice", "va", [(nov(1), "Paid Search"), (nov(7), "Paid Search")], nov(1, 10)),
    "bob": (2, "c-bob", "vb", [(nov(2), "Paid Search")], nov(2)),
    "carol": (3, "c-carol", "vc", [(nov(2), "Organic Search")], nov(2, 12)),
    "dave": (4, "c-dave", "vd", [(at(10, 20), "Paid Search")], at(10, 20)),
    "erin": (5, "c-erin", "ve", [(at(10, 21), "Paid Search")], at(10, 21)),
}
MILESTONES = {  # contact: {milestone: CRM date-entered time}
    "c-alice": {"mql": nov(3, 10), "sql": nov(5, 10)},
    "c-bob": {"mql": nov(5)},
    "c-carol": {"sql": nov(8, 12)},  # skipped MQL: no MQL date
    "c-dave": {"mql": at(10, 25), "sql": nov(10)},
    "c-erin": {"mql": at(10, 26), "sql": nov(12)},
}


def seed(runtime: Runtime) -> None:
    """Write the table above into the store."""
    add_attributions = sys.modules["reports_conftest"].add_attributions  # tests/reports/conftest
    touches: dict[str, list[Touchpoint]] = {}
    with runtime.sessions.begin() as s:
        for name, (pid, contact, vid, visits, lead_at) in PEOPLE.items():
            s.add(Person(id=pid, email_sha256=email_key(f"{name}@example.com")))
            s.flush()
            s.add(Visitor(id=vid, person_id=pid))
            s.flush()
            touches[name] = [
                Touchpoint(
                    visitor_id=vid,
                    occurred_at=when,
                    url="https://shop.example/",
                    channel=channel,
                    is_new_session=True,
                    **TOUCH[channel],
                )
                for when, channel in visits
            ]
            s.add_all(touches[name])
            s.add(Lead(person_id=pid, visitor_id=vid, kind="form", occurred_at=lead_at))
            for stage, entered in MILESTONES[contact].items():
                s.add(
                    LifecycleEvent(
                        contact_id=contact,
                        stage=stage,
                        crm_stage=stage,
                        email_sha256=email_key(f"{name}@example.com"),
                        entered_at=entered,
                    )
                )
        s.add(Visitor(id="vx"))
        s.flush()
        s.add(
            Touchpoint(
                visitor_id="vx", occurred_at=nov(3), url="https://shop.example/", channel="Direct"
            )
        )
        deals = [
            ("D1", "1000", nov(6), nov(11), True, "c-alice", touches["alice"][:1]),
            ("D2", "700", nov(9, 12), None, False, "c-carol", touches["carol"]),
            ("D3", "500", at(10, 28), nov(20), True, "c-dave", touches["dave"]),
        ]
        for deal_id, amount, created, closed, won, contact, _credited in deals:
            s.add(
                Deal(
                    id=deal_id,
                    amount=Decimal(amount),
                    currency="USD",
                    created_time=created,
                    close_time=closed,
                    is_won=won,
                    is_closed=won,
                    contact_ids=[contact],
                    pipeline="default",
                    stage="closedwon" if won else "qualifiedtobuy",
                    match_status="matched",
                )
            )
        s.flush()
        for deal_id, amount, _created, closed, _won, _contact, credited in deals:
            add_attributions(s, deal_id, amount, "USD", closed or nov(30), credited)
        s.add(
            SpendDaily(
                platform="google_ads",
                day="2026-11-01",
                campaign_id="g1",
                campaign="Brand",
                keyword_id="k1",
                keyword="acme",
                source="google",
                medium="cpc",
                channel="Paid Search",
                currency="USD",
                cost=Decimal("300"),
                clicks=30,
            )
        )
