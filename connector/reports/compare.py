"""Model comparison: revenue per channel (or other grouping) under every attribution model.

One GROUP BY with a revenue sum per model instead of five source reports, with the same
crediting as the source report's revenue column: attributed shares of deals won in the range,
and won deals without a journey on the ``(no journey)`` row.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.reports.sources import (
    MODELS,
    NO_JOURNEY,
    ReportRange,
    fx_factor,
    has_journey,
    plan_for_reports,
    touch_dimension,
    won_between,
)
from connector.storage.models import Attribution, Deal, Touchpoint, model_revenue

CENT = Decimal("0.01")


def model_comparison(
    session: Session,
    rng: ReportRange,
    *,
    by: str = "channel",
    currency: str = "USD",
    fx_rates: dict[str, Decimal] | None = None,
) -> dict[str, Any]:
    """One row per group with its revenue under each model, side by side."""
    dim = touch_dimension(by)
    fx = fx_factor(Deal.currency, currency, fx_rates or {})
    plan_for_reports(session)
    won = won_between(rng)
    table: dict[str, dict[str, Decimal]] = {}

    def add(group: str, model: str, amount: Any) -> None:
        values = table.setdefault(group, {m: Decimal(0) for m in MODELS})
        values[model] += Decimal(amount or 0)

    attributed = (
        select(dim, *(func.sum(model_revenue(m) * fx) for m in MODELS))
        .join(Touchpoint, Touchpoint.id == Attribution.touchpoint_id)
        .join(Deal, Deal.id == Attribution.deal_id)
        .where(won)
        .group_by(dim)
    )
    for group, *revenues in session.execute(attributed):
        for model, revenue in zip(MODELS, revenues, strict=True):
            add(group, model, revenue)
    # Won deals without a journey: the same deals under every model.
    orphans = select(func.count(), func.sum(Deal.amount * fx)).where(won, ~has_journey())
    count, unattributed = session.execute(orphans).one()
    if count:
        for model in MODELS:
            add(NO_JOURNEY, model, unattributed)

    rows = [
        {"group": group, "revenue": {m: v.quantize(CENT) for m, v in values.items()}}
        for group, values in table.items()
    ]
    rows.sort(key=lambda r: (max(r["revenue"].values()), r["group"]), reverse=True)
    return {
        "range": {"from": rng.start.isoformat(), "to": rng.end.isoformat()},
        "by": by,
        "currency": currency,
        "models": list(MODELS),
        "rows": rows,
    }
