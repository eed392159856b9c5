"""Revenue over time: attributed revenue per close day and channel, for the dashboard chart."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.reports.sources import ReportRange, fx_factor, plan_for_reports
from connector.storage.models import Attribution, Deal, Touchpoint, model_revenue, model_weight


def revenue_over_time(
    session: Session,
    rng: ReportRange,
    *,
    model: str,
    currency: str,
    fx_rates: dict[str, Decimal] | None = None,
) -> dict[str, Any]:
    """``{"days": [...], "series": {channel: [revenue per day]}}`` in the reporting currency."""
    day = func.date(Deal.close_time)
    plan_for_reports(session)
    fx = fx_factor(Deal.currency, currency, fx_rates or {})
    query = (
        select(day, Touchpoint.channel, func.sum(model_revenue(model) * fx))
        .join(Touchpoint, Touchpoint.id == Attribution.touchpoint_id)
        .join(Deal, Deal.id == Attribution.deal_id)
        .where(
            model_weight(model) > 0,
            Deal.is_won.is_(True),
            Deal.close_time >= rng.since,
            Deal.close_time < rng.until,
        )
        .group_by(day, Touchpoint.channel)
    )
    by_day: dict[str, dict[str, Decimal]] = defaultdict(dict)
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for d, channel, revenue in session.execute(query):
        amount = Decimal(revenue or 0).quantize(Decimal("0.01"))
        by_day[str(d)][channel or "Direct"] = amount
        totals[channel or "Direct"] += amount
    # Every day of the range, so quiet days show as gaps at zero rather than being skipped.
    days = [
        (rng.start + timedelta(days=i)).isoformat() for i in range((rng.end - rng.start).days + 1)
    ]
    channels = sorted(totals, key=lambda c: (-totals[c], c))
    return {
        "days": days,
        "series": {c: [by_day[d].get(c, Decimal("0.00")) for d in days] for c in channels},
    }
