"""What the platforms hold after adjustments, and what was never sent and why.

A conversion the platform accepted and later took back (an accepted retraction) is not revenue
it holds; one restated (an accepted restatement) holds the restated value. So the delivery
view shows, per platform, the gross accepted figures, the retracted and restated ones, and the
net; and, from ``not_planned``, the conversions never planned for a platform with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, select
from sqlalchemy.orm import Session, aliased

from connector.reports.sources import ReportRange
from connector.storage.models import Conversion, NotPlanned
from platforms.base import CONVERSION, RESTATEMENT, RETRACTION

CENT = Decimal("0.01")
FxFor = Callable[[Any], ColumnElement]


def _latest_accepted(kind: str) -> Any:
    """Per (destination, adjusted key): the newest accepted adjustment of ``kind``."""
    return (
        select(
            Conversion.destination.label("destination"),
            Conversion.adjusts_key.label("adjusts_key"),
            func.max(Conversion.id).label("last_id"),
        )
        .where(Conversion.kind == kind, Conversion.status == "accepted")
        .group_by(Conversion.destination, Conversion.adjusts_key)
        .subquery()
    )


def net_accepted(
    session: Session, in_range: ColumnElement[bool], fx_for: FxFor
) -> dict[str, dict[str, Any]]:
    """Per platform: accepted conversions, the retracted and restated among them, and the net.

    ``fx_for(currency_column)`` gives the SQL factor into the reporting currency.
    """
    retracted = _latest_accepted(RETRACTION)
    restated = _latest_accepted(RESTATEMENT)
    restatement = aliased(Conversion)
    original = Conversion.value * fx_for(Conversion.currency)
    restated_value = restatement.value * fx_for(restatement.currency)
    is_retracted = retracted.c.last_id.is_not(None)
    is_restated = and_(restatement.id.is_not(None), ~is_retracted)
    zero = literal(Decimal(0))
    query = (
        select(
            Conversion.destination,
            func.count(),
            func.sum(original),
            func.count(retracted.c.last_id),
            func.sum(case((is_retracted, original), else_=zero)),
            func.sum(case((is_restated, 1), else_=0)),
            func.sum(case((is_restated, restated_value - original), else_=zero)),
            func.sum(case((is_retracted, zero), else_=func.coalesce(restated_value, original))),
        )
        .select_from(Conversion)
        .outerjoin(
            retracted,
            and_(
                retracted.c.destination == Conversion.destination,
                retracted.c.adjusts_key == Conversion.dedup_key,
            ),
        )
        .outerjoin(
            restated,
            and_(
                restated.c.destination == Conversion.destination,
                restated.c.adjusts_key == Conversion.dedup_key,
            ),
        )
        .outerjoin(restatement, restatement.id == restated.c.last_id)
        .where(in_range, Conversion.kind == CONVERSION, Conversion.status == "accepted")
        .group_by(Conversion.destination)
    )
    out: dict[str, dict[str, Any]] = {}
    for row in session.execute(query):
        platform, count, value, n_retracted, v_retracted, n_restated, change, net = row
        out[platform] = {
            "accepted": {"conversions": count, "value": _money(value)},
            "retracted": {"conversions": n_retracted, "value": _money(v_retracted)},
            "restated": {"conversions": int(n_restated or 0), "value_change": _money(change)},
            "net": {"conversions": count - n_retracted, "value": _money(net)},
        }
    return out


def adjustment_rows(session: Session, in_range: ColumnElement[bool]) -> dict[str, dict]:
    """Per platform and adjustment kind: rows by status (so pending retractions show too)."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    query = (
        select(Conversion.destination, Conversion.kind, Conversion.status, func.count())
        .where(in_range, Conversion.kind.in_((RESTATEMENT, RETRACTION)))
        .group_by(Conversion.destination, Conversion.kind, Conversion.status)
    )
    for platform, kind, status, count in session.execute(query):
        out.setdefault(platform, {}).setdefault(kind, {})[status] = count
    return out


def not_planned(session: Session, rng: ReportRange) -> dict[str, list[dict[str, Any]]]:
    """Per platform: conversions never planned, by what and why, most frequent first."""
    in_range = (NotPlanned.event_time >= rng.since) & (NotPlanned.event_time < rng.until)
    query = (
        select(NotPlanned.destination, NotPlanned.what, NotPlanned.reason, func.count())
        .where(in_range)
        .group_by(NotPlanned.destination, NotPlanned.what, NotPlanned.reason)
        .order_by(NotPlanned.destination, func.count().desc(), NotPlanned.reason)
    )
    out: dict[str, list[dict[str, Any]]] = {}
    for platform, what, reason, count in session.execute(query):
        out.setdefault(platform, []).append({"what": what, "reason": reason, "count": count})
    return out


def _money(value: Any) -> Decimal:
    return Decimal(value or 0).quantize(CENT)
