"""Predicted against realised: the value sent at lead time, and the revenue those leads won.

A marketer trusts a lead value once it is seen to come true. Per lead stage, source and month
the lead entered the stage: how many leads were sent (a prediction with at least one outbox
row), the value sent for them (``predicted``), the closed-won revenue they have produced since
(``realised``, counted as the values are learned: deals of the lead's CRM contact closed at or
after the stage entry, in the lead-value currency, a deal once per stage), and
``realised / predicted`` (``calibration``; near 1 when the values are right, below 1 while the
month's deals are still open). Months are UTC calendar months of the stage entry.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.leadvalue.cohort import StageEntry, won_revenue
from connector.leadvalue.settings import LEAD_STAGES
from connector.reports.sources import ReportRange
from connector.storage.models import LeadPrediction, Person

#: What the report groups sources by.
GROUPINGS = ("channel", "campaign")
#: The report's default span: the learning window's default, so a month's realised revenue
#: can be followed for as long as it teaches the values.
DEFAULT_DAYS = 180
CENT = Decimal("0.01")


def default_start(today: date) -> date:
    """The first day of the default range (``DEFAULT_DAYS`` up to and including today)."""
    return today - timedelta(days=DEFAULT_DAYS - 1)


def lead_value_report(
    session: Session,
    rng: ReportRange,
    *,
    currency: str,
    by: str = "channel",
    now: datetime,
) -> dict[str, Any]:
    """Rows per (stage, source, month) and a totals row per stage; money rounded to the cent."""
    if by not in GROUPINGS:
        raise ValueError(f"unknown grouping {by!r}; use one of {', '.join(GROUPINGS)}")
    found = session.scalars(
        select(LeadPrediction).where(
            LeadPrediction.entered_at >= rng.since,
            LeadPrediction.entered_at < rng.until,
            LeadPrediction.rows_planned > 0,
            LeadPrediction.value.is_not(None),
            LeadPrediction.currency == currency.upper(),
        )
    ).all()
    # A site lead is often planned before the write-back makes its CRM contact: take the
    # person's contact as it is now.
    unlinked = sorted({p.person_id for p in found if not p.contact_id and p.person_id})
    contacts = dict(
        session.execute(
            select(Person.id, Person.crm_contact_id).where(Person.id.in_(unlinked))
        ).all()
        if unlinked
        else []
    )
    entries = {
        p.id: StageEntry(
            p.lead_key,
            p.stage,
            p.entered_at,
            p.person_id,
            p.contact_id or contacts.get(p.person_id),
            p.channel,
            p.campaign,
        )
        for p in found
    }
    revenue = won_revenue(session, entries.values(), currency, now)
    cells: dict[tuple[str, str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 3)
    totals: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 3)
    for p in found:
        source = p.channel if by == "channel" else p.campaign
        won = revenue.get((p.lead_key, p.stage), Decimal(0))
        for slot in (cells[(p.stage, source, f"{p.entered_at:%Y-%m}")], totals[p.stage]):
            slot[0] += 1
            slot[1] += Decimal(p.value)
            slot[2] += won
    order = {s: i for i, s in enumerate(LEAD_STAGES)}
    rows = [
        {"stage": stage, "source": source, "month": month, **_figures(*cells[key])}
        for key in sorted(cells, key=lambda k: (order.get(k[0], 9), k[1], k[2]))
        for stage, source, month in [key]
    ]
    return {
        "range": {"from": rng.start.isoformat(), "to": rng.end.isoformat()},
        "currency": currency.upper(),
        "by": by,
        "rows": rows,
        "totals": [
            {"stage": stage, **_figures(*totals[stage])}
            for stage in sorted(totals, key=lambda s: order.get(s, 9))
        ],
    }


def _figures(leads: Decimal, predicted: Decimal, realised: Decimal) -> dict[str, Any]:
    calibration = (realised / predicted).quantize(CENT, ROUND_HALF_UP) if predicted else None
    return {
        "leads": int(leads),
        "predicted": predicted.quantize(CENT, ROUND_HALF_UP),
        "realised": realised.quantize(CENT, ROUND_HALF_UP),
        "calibration": calibration,
    }
