"""Learned values and predictions in the store: one set of values per day, looked up by source."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from connector.leadvalue.learn import ALL, Learned
from connector.storage.models import LeadValue, utcnow


@dataclass(frozen=True)
class Chosen:
    """The value a stage entry is sent with, and the stored row it came from."""

    value: Decimal
    lead_value_id: int


def latest_day(session: Session) -> date | None:
    """The newest day values were learned on."""
    return session.scalar(select(func.max(LeadValue.learned_on)))


def save(
    session: Session,
    learned: list[Learned],
    *,
    day: date,
    currency: str,
    window_days: int,
    now: datetime | None = None,
) -> None:
    """Replace the day's values with ``learned`` (relearning the same day is allowed)."""
    session.execute(delete(LeadValue).where(LeadValue.learned_on == day))
    at = now or utcnow()
    session.add_all(
        LeadValue(
            learned_on=day,
            stage=v.stage,
            channel=v.channel[:64],
            campaign=v.campaign[:255],
            n=v.n,
            revenue=v.revenue,
            prior_weight=v.prior_weight,
            overall=v.overall,
            value=v.value,
            currency=currency.upper(),
            window_days=window_days,
            learned_at=at,
        )
        for v in learned
    )
    session.flush()


class Values:
    """The values of one day, by (stage, channel, campaign), with the fallbacks.

    A campaign never seen in the window takes its channel's value, a channel never seen the
    stage's overall one.
    """

    def __init__(self, session: Session, day: date | None) -> None:
        rows = (
            session.execute(select(LeadValue).where(LeadValue.learned_on == day)).scalars()
            if day is not None
            else []
        )
        self._by = {(r.stage, r.channel, r.campaign): r for r in rows}

    def choose(self, stage: str, channel: str, campaign: str) -> Chosen | None:
        """The most specific value for this source; None when nothing was learned."""
        for key in ((stage, channel, campaign), (stage, channel, ALL), (stage, ALL, ALL)):
            row = self._by.get(key)
            if row is not None:
                return Chosen(Decimal(row.value), row.id)
        return None
