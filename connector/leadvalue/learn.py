"""Learn a value per lead stage, per channel and per campaign, from closed revenue.

For each stage, over the stage entries of the trailing window (``lead_values.window_days``):
the overall value is all their revenue over all of them; a channel's, and a campaign's within
its channel, is its own revenue per lead shrunk toward that overall value
(:func:`connector.leadvalue.shrink.shrunk`). Leads that entered late in the window have had
less time to close, which only pulls values down: the values err low, never high.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from connector.leadvalue import cohort
from connector.leadvalue.settings import LEAD_STAGES, LeadValueSettings
from connector.leadvalue.shrink import shrunk

#: The group key of a stage's overall value, and of a channel's (no campaign).
ALL = ""


@dataclass(frozen=True)
class Learned:
    """One learned value with the inputs it came from."""

    stage: str
    channel: str
    campaign: str
    n: int
    revenue: Decimal
    prior_weight: Decimal
    overall: Decimal
    value: Decimal


def values_from(
    entries: list[cohort.StageEntry],
    revenue: dict[tuple[str, str], Decimal],
    prior_weight: Decimal,
) -> list[Learned]:
    """The overall, channel and campaign values of every stage that has entries. Pure."""
    out: list[Learned] = []
    for stage in LEAD_STAGES:
        mine = [e for e in entries if e.stage == stage]
        if not mine:
            continue
        groups: dict[tuple[str, str], list[Decimal]] = defaultdict(list)
        for e in mine:
            won = revenue.get((e.lead_key, e.stage), Decimal(0))
            groups[(ALL, ALL)].append(won)
            groups[(e.channel, ALL)].append(won)
            groups[(e.channel, e.campaign)].append(won)
        total = groups[(ALL, ALL)]
        overall = sum(total, Decimal(0)) / len(total)
        for (channel, campaign), wins in sorted(groups.items()):
            n, won = len(wins), sum(wins, Decimal(0))
            value = shrunk(n, won, overall, prior_weight) if channel else shrunk(n, won, overall, 0)
            out.append(Learned(stage, channel, campaign, n, won, prior_weight, overall, value))
    return out


def learn(
    session: Session,
    cfg: LeadValueSettings,
    currency: str,
    now: datetime,
    *,
    ignore_direct: bool = True,
) -> list[Learned]:
    """The day's values: entries of the ``window_days`` before today (UTC), revenue up to now.

    The window ends where the day begins, so a day's values are the same whenever they are
    learned, and today's leads (still being sent) never teach their own value.
    """
    until = datetime.combine(learned_on(now), time.min, tzinfo=UTC)
    since = until - timedelta(days=cfg.window_days)
    found = cohort.entries(session, since, until, ignore_direct=ignore_direct)
    revenue = cohort.won_revenue(session, found, currency, now)
    return values_from(found, revenue, cfg.prior_weight)


def learned_on(now: datetime) -> date:
    """The UTC day a value learned at ``now`` belongs to."""
    return now.date()
