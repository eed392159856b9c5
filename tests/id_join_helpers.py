"""One-touch won buyers and the source report's figures by group, for the URL-ID join tests.

Meta's, Microsoft's and LinkedIn's ID joins are each tested the same way: a visitor lands once
with the platform's IDs in the URL and buys; after the spend pull, the report row of each
campaign, ad or keyword must hold both the revenue and the spend.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from connector.reports import ReportRange, source_report
from connector.runtime import Runtime
from connector.storage.models import Deal, Person, Touchpoint, Visitor


def add_won_buyer(s: Session, n: int, *, at: datetime, amount: str, **touch: Any) -> None:
    """Person ``n`` whose one visit ``v<n>`` (touch ``n``, at ``at``) became won deal ``D<n>``."""
    s.add(Person(id=n, email_sha256=f"{n:064x}"))
    s.add(Visitor(id=f"v{n}", person_id=n))
    s.flush()
    s.add(Touchpoint(id=n, visitor_id=f"v{n}", occurred_at=at, is_new_session=True, **touch))
    s.add(
        Deal(
            id=f"D{n}",
            amount=Decimal(amount),
            currency="USD",
            created_time=at + timedelta(hours=1),
            close_time=at + timedelta(hours=2),
            is_won=True,
            is_closed=True,
            contact_ids=[f"c{n}"],
            stage="closedwon",
            match_status="matched",
        )
    )


def figures_by_group(
    runtime: Runtime, day: date, by: str
) -> dict[str, tuple[Decimal, Decimal, Decimal | None]]:
    """Revenue, spend and ROI of each row of the source report around ``day``."""
    rng = ReportRange(day - timedelta(days=1), day + timedelta(days=1))
    with runtime.sessions() as s:
        rows = source_report(s, rng, by=by)["rows"]
    return {r["group"]: (r["revenue"], r["spend"], r["kpis"]["roi"]) for r in rows}
