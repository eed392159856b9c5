"""MQL and SQL counts per report group, proven on a hand-computed fixture.

The fixture (November 2026, range Nov 1-30):

======  ==========================================================  =====================
who     touches (channel @ day)                                     milestones (day)
======  ==========================================================  =====================
alice   Paid Search @1, Organic Search @5, Direct @8 (one visitor)  MQL @6, SQL @9
bob     Paid Social @2 (visitor 1), Email @4 00:00 (visitor 2);     MQL @4 00:00
        linked by crm_contact_id only, the event has no email
carol   Direct @3                                                   MQL @7
dave    - (email hash of nobody in the store)                       MQL @10
erin    - (no email, no person)                                     SQL @11
frank   Referral @15 (after his MQL)                                MQL @12
gina    Paid Search @Oct 30                                         MQL Oct 31 23:00,
                                                                    SQL Dec 1 00:00 (out)
======  ==========================================================  =====================
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session

from connector.identity import email_key
from connector.reports.lifecycle import (
    add_to_rows,
    credited_milestones,
    lifecycle_counts,
    lifecycle_totals,
)
from connector.reports.sources import NO_JOURNEY, ReportRange
from connector.runtime import Runtime
from connector.storage.models import LifecycleEvent, Person, Touchpoint, Visitor

NOV = ReportRange(date(2026, 11, 1), date(2026, 11, 30))


def nov(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


TOUCH = {
    "Paid Search": {"source": "google", "medium": "cpc", "campaign": "Brand", "term": "acme"},
    "Organic Search": {"source": "google", "medium": "organic"},
    "Direct": {},
    "Paid Social": {"source": "facebook", "medium": "paid_social", "campaign": "Retarget"},
    "Email": {"source": "newsletter", "medium": "email", "campaign": "Nov"},
    "Referral": {"source": "partner.example", "medium": "referral"},
}


@pytest.fixture
def world(runtime: Runtime) -> Runtime:
    people = {
        "alice": Person(id=1, email_sha256=email_key("alice@example.com")),
        "bob": Person(id=2, email_sha256=email_key("bob@example.com"), crm_contact_id="c-bob"),
        "carol": Person(id=3, email_sha256=email_key("carol@example.com")),
        "frank": Person(id=4, email_sha256=email_key("frank@example.com")),
        "gina": Person(id=5, email_sha256=email_key("gina@example.com")),
    }
    visitors = [
        Visitor(id="va", person_id=1),
        Visitor(id="vb1", person_id=2),
        Visitor(id="vb2", person_id=2),
        Visitor(id="vc", person_id=3),
        Visitor(id="vf", person_id=4),
        Visitor(id="vg", person_id=5),
        Visitor(id="vx"),  # an anonymous visitor with a late touch: must credit nobody
    ]
    touches = [
        ("va", nov(1), "Paid Search"),
        ("va", nov(5), "Organic Search"),
        ("va", nov(8), "Direct"),
        ("vb1", nov(2), "Paid Social"),
        ("vb2", nov(4), "Email"),
        ("vc", nov(3), "Direct"),
        ("vf", nov(15), "Referral"),
        ("vg", datetime(2026, 10, 30, tzinfo=UTC), "Paid Search"),
        ("vx", nov(20), "Paid Search"),
    ]
    events = [
        ("c-alice", "mql", nov(6), email_key("alice@example.com")),
        ("c-alice", "sql", nov(9), email_key("alice@example.com")),
        ("c-bob", "mql", nov(4), None),  # the touch at exactly this time counts
        ("c-carol", "mql", nov(7), email_key("Carol@Example.com ")),
        ("c-dave", "mql", nov(10), email_key("dave@example.com")),
        ("c-erin", "sql", nov(11), None),
        ("c-frank", "mql", nov(12), email_key("frank@example.com")),
        ("c-gina", "mql", datetime(2026, 10, 31, 23, tzinfo=UTC), email_key("gina@example.com")),
        ("c-gina", "sql", datetime(2026, 12, 1, tzinfo=UTC), email_key("gina@example.com")),
    ]
    with runtime.sessions.begin() as session:
        session.add_all(people.values())
        session.flush()
        session.add_all(visitors)
        session.flush()
        session.add_all(
            Touchpoint(
                visitor_id=vid,
                occurred_at=at,
                url="https://shop.example/",
                channel=channel,
                is_new_session=True,
                **TOUCH[channel],
            )
            for vid, at, channel in touches
        )
        session.add_all(
            LifecycleEvent(contact_id=c, stage=s, crm_stage=s, email_sha256=e, entered_at=at)
            for c, s, at, e in events
        )
    return runtime


def counts(runtime: Runtime, **options: Any) -> dict[str, dict[str, int]]:
    with runtime.sessions() as session:
        return lifecycle_counts(session, NOV, **options)


def test_last_click_ignoring_direct(world: Runtime) -> None:
    """alice: MQL after Organic @5, SQL after Direct @8 -> last non-direct = Organic."""
    assert counts(world) == {
        "Organic Search": {"mqls": 1, "sqls": 1},
        "Email": {"mqls": 1, "sqls": 0},  # bob, across his two visitors
        "Direct": {"mqls": 1, "sqls": 0},  # carol has nothing but Direct
        NO_JOURNEY: {"mqls": 2, "sqls": 1},  # dave + frank, erin
    }


def test_last_click_with_direct_counted(world: Runtime) -> None:
    assert counts(world, ignore_direct=False) == {
        "Organic Search": {"mqls": 1, "sqls": 0},
        "Direct": {"mqls": 1, "sqls": 1},  # carol's MQL, alice's SQL
        "Email": {"mqls": 1, "sqls": 0},
        NO_JOURNEY: {"mqls": 2, "sqls": 1},
    }


def test_first_click(world: Runtime) -> None:
    assert counts(world, model="first_click") == {
        "Paid Search": {"mqls": 1, "sqls": 1},
        "Paid Social": {"mqls": 1, "sqls": 0},
        "Direct": {"mqls": 1, "sqls": 0},
        NO_JOURNEY: {"mqls": 2, "sqls": 1},
    }


@pytest.mark.parametrize("model", ["linear", "time_decay", "position_based"])
def test_multi_touch_models_credit_the_last_touch_like_leads(world: Runtime, model: str) -> None:
    assert counts(world, model=model) == counts(world, model="last_click")


def test_grouped_by_source_medium_and_campaign(world: Runtime) -> None:
    assert counts(world, by="source_medium") == {
        "google / organic": {"mqls": 1, "sqls": 1},
        "newsletter / email": {"mqls": 1, "sqls": 0},
        "(direct) / (none)": {"mqls": 1, "sqls": 0},
        NO_JOURNEY: {"mqls": 2, "sqls": 1},
    }
    assert counts(world, by="campaign", model="first_click") == {
        "Brand": {"mqls": 1, "sqls": 1},
        "Retarget": {"mqls": 1, "sqls": 0},
        "(not set)": {"mqls": 1, "sqls": 0},
        NO_JOURNEY: {"mqls": 2, "sqls": 1},
    }


def test_range_bounds_are_inclusive_days(world: Runtime) -> None:
    """Gina's MQL (Oct 31 23:00) and SQL (Dec 1 00:00) fall outside Nov 1-30."""
    with world.sessions() as session:
        dec = lifecycle_counts(session, ReportRange(date(2026, 12, 1), date(2026, 12, 1)))
        octo = lifecycle_counts(session, ReportRange(date(2026, 10, 31), date(2026, 10, 31)))
    assert dec == {"Paid Search": {"mqls": 0, "sqls": 1}}
    assert octo == {"Paid Search": {"mqls": 1, "sqls": 0}}
    assert lifecycle_totals(counts(world)) == {"mqls": 5, "sqls": 2}


def test_each_milestone_with_its_person_and_group(world: Runtime) -> None:
    with world.sessions() as session:
        rows = credited_milestones(session, NOV)
    assert [(r.contact_id, r.stage, r.person_id, r.group) for r in rows] == [
        ("c-bob", "mql", 2, "Email"),  # linked through crm_contact_id
        ("c-alice", "mql", 1, "Organic Search"),
        ("c-carol", "mql", 3, "Direct"),  # email normalised before hashing
        ("c-alice", "sql", 1, "Organic Search"),
        ("c-dave", "mql", None, NO_JOURNEY),
        ("c-erin", "sql", None, NO_JOURNEY),
        ("c-frank", "mql", 4, NO_JOURNEY),  # his only touch came after
    ]
    assert rows[0].entered_at == nov(4)


def test_merging_into_source_report_rows(world: Runtime) -> None:
    """How sources.py uses it: counts land on the groups, None becomes 0 elsewhere."""

    def empty() -> dict[str, Any]:
        return {"leads": 0, "mqls": None, "sqls": None}

    rows: dict[str, dict[str, Any]] = defaultdict(empty)
    rows["Paid Search"]["leads"] = 3
    add_to_rows(rows, counts(world))
    assert rows["Paid Search"] == {"leads": 3, "mqls": 0, "sqls": 0}
    assert rows["Organic Search"] == {"leads": 0, "mqls": 1, "sqls": 1}
    assert rows[NO_JOURNEY] == {"leads": 0, "mqls": 2, "sqls": 1}
    assert set(rows) == {"Paid Search", "Organic Search", "Email", "Direct", NO_JOURNEY}


def test_empty_store_and_bad_arguments(runtime: Runtime) -> None:
    session: Session
    with runtime.sessions() as session:
        assert lifecycle_counts(session, NOV) == {}
        with pytest.raises(ValueError, match="unknown model"):
            lifecycle_counts(session, NOV, model="u_shaped")
        with pytest.raises(ValueError, match="unknown grouping"):
            lifecycle_counts(session, NOV, by="country")


def source_rows(runtime: Runtime, **options: Any) -> tuple[dict[str, dict[str, Any]], dict]:
    from connector.reports.sources import source_report

    with runtime.sessions() as session:
        report = source_report(session, NOV, **options)
    return {row["group"]: row for row in report["rows"]}, report["totals"]


def test_source_report_counts_mqls_and_sqls_when_stages_are_mapped(world: Runtime) -> None:
    """The report's MQL/SQL columns and MQL→SQL rate, from the fixture above (last click)."""
    rows, totals = source_rows(world, lifecycle_mapped=True)
    figures = {g: (r["mqls"], r["sqls"], r["kpis"]["mql_to_sql"]) for g, r in rows.items()}
    assert figures["Organic Search"] == (1, 1, 1)
    assert figures["Email"] == (1, 0, 0)
    assert figures["Direct"] == (1, 0, 0)
    assert figures["Paid Search"] == (0, 0, None)  # no MQLs: the rate is undefined, not 0
    assert figures[NO_JOURNEY] == (2, 1, 0.5)
    assert (totals["mqls"], totals["sqls"], totals["kpis"]["mql_to_sql"]) == (5, 2, Decimal("0.4"))


def test_source_report_leaves_mqls_undefined_when_stages_are_not_mapped(world: Runtime) -> None:
    rows, totals = source_rows(world, lifecycle_mapped=False)
    assert {r["mqls"] for r in rows.values()} == {None}
    assert (totals["mqls"], totals["kpis"]["mql_to_sql"]) == (None, None)


def test_report_options_follow_the_mapping_profile(make_settings) -> None:
    """HubSpot's profile maps MQL/SQL; an override that drops every stage turns them off."""
    from connector.reports import source_report_options

    assert source_report_options(make_settings())["lifecycle_mapped"] is True
    unmapped = make_settings(
        {
            "mapping": {
                "overrides": {
                    "lifecycle": {
                        "mql": {"marketingqualifiedlead": None},
                        "sql": {"salesqualifiedlead": None},
                    }
                }
            },
            "attribution": {"ignore_direct": False},
        }
    )
    options = source_report_options(unmapped)
    assert options["lifecycle_mapped"] is False and options["ignore_direct"] is False
