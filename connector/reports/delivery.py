"""The delivery report: per platform, what was accepted, skipped, rejected and pending, and why.

``by_status`` counts conversion rows by their own status; ``retracted``, ``restated`` and
``net`` say what the platform holds after accepted adjustments (a retracted conversion is not
revenue the platform holds), and ``not_planned`` lists what was never sent, with the reason.

Also the match rate: the share of won revenue matched to a journey, and to a click or
identifier each platform could use; and ``spend_join``, per ad platform, the share of won
revenue that lands next to its spend, and why the rest does not (``spend_join.py``).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import String, func, select
from sqlalchemy.orm import Session

from connector.reports.adjustments import adjustment_rows, net_accepted, not_planned
from connector.reports.kpis import ratio
from connector.reports.sources import ReportRange, fx_factor, plan_for_reports
from connector.reports.spend_join import spend_join
from connector.storage.models import Conversion, Deal

#: Every status a row can be in; ``confirming``: handed over, the platform's verdict awaited.
STATUSES = ("accepted", "confirming", "pending", "skipped", "rejected", "dead")


def delivery_report(
    session: Session,
    rng: ReportRange,
    *,
    currency: str = "USD",
    fx_rates: dict[str, Decimal] | None = None,
) -> dict[str, Any]:
    """Conversions planned for events in the range, by platform, status, reason and day."""
    in_range = (Conversion.event_time >= rng.since) & (Conversion.event_time < rng.until)
    plan_for_reports(session)
    fx = fx_factor(Conversion.currency, currency, fx_rates or {})
    platforms: dict[str, dict[str, Any]] = defaultdict(
        lambda: {
            "by_status": {s: {"conversions": 0, "value": Decimal(0)} for s in STATUSES},
            "reasons": [],
            "by_day": defaultdict(lambda: {s: 0 for s in STATUSES}),
        }
    )
    by_status = (
        select(
            Conversion.destination, Conversion.status, func.count(), func.sum(Conversion.value * fx)
        )
        .where(in_range, Conversion.kind == "conversion")
        .group_by(Conversion.destination, Conversion.status)
    )
    for platform, status, count, value in session.execute(by_status):
        slot = platforms[platform]["by_status"].setdefault(
            status, {"conversions": 0, "value": Decimal(0)}
        )
        slot["conversions"] += count
        slot["value"] += Decimal(value or 0).quantize(Decimal("0.01"))

    reasons = (
        select(
            Conversion.destination,
            Conversion.status,
            Conversion.reason_code,
            func.max(Conversion.reason),
            func.count(),
        )
        .where(in_range, Conversion.kind == "conversion")
        # Accepted rows carry a code only for the platform's warning (e.g. Google's
        # PARTIAL_SUCCESS: some events of their request failed, Google does not say which).
        .where(Conversion.reason_code.is_not(None))
        .group_by(Conversion.destination, Conversion.status, Conversion.reason_code)
        .order_by(func.count().desc())
    )
    for platform, status, code, example, count in session.execute(reasons):
        platforms[platform]["reasons"].append(
            {"status": status, "code": code, "example": example, "count": count}
        )

    # The UTC day as text on both backends (PostgreSQL sessions run in UTC, see storage.db).
    day = func.substr(func.cast(Conversion.event_time, String()), 1, 10)
    by_day = (
        select(Conversion.destination, day, Conversion.status, func.count())
        .where(in_range, Conversion.kind == "conversion")
        .group_by(Conversion.destination, day, Conversion.status)
    )
    for platform, d, status, count in session.execute(by_day):
        platforms[platform]["by_day"][d][status] = count

    deal_fx = fx_factor(Deal.currency, currency, fx_rates or {})
    won = (Deal.is_won.is_(True)) & (Deal.close_time >= rng.since) & (Deal.close_time < rng.until)
    total_rev = Decimal(session.scalar(select(func.sum(Deal.amount * deal_fx)).where(won)) or 0)
    matched_rev = Decimal(
        session.scalar(
            select(func.sum(Deal.amount * deal_fx)).where(won, Deal.match_status == "matched")
        )
        or 0
    )
    # A platform could use a deal when it got a conversion the platform's adapter did not skip
    # (skipped = no click or identifier it accepts, or outside its window).
    usable = (
        select(Conversion.deal_id, Conversion.destination)
        .where(Conversion.kind == "conversion", Conversion.status != "skipped")
        .distinct()
        .subquery()
    )
    usable_revenue = dict(
        session.execute(
            select(usable.c.destination, func.sum(Deal.amount * deal_fx))
            .join(Deal, Deal.id == usable.c.deal_id)
            .where(won)
            .group_by(usable.c.destination)
        ).all()
    )
    fx_for = lambda column: fx_factor(column, currency, fx_rates or {})  # noqa: E731
    net = net_accepted(session, in_range, fx_for)
    adjustments = adjustment_rows(session, in_range)
    never = not_planned(session, rng)
    for platform in (*net, *adjustments, *never):
        platforms[platform]
    out_platforms = {}
    for platform, data in sorted(platforms.items()):
        sent_rev = Decimal(usable_revenue.get(platform) or 0)
        held = net.get(platform) or _nothing_accepted()
        out_platforms[platform] = {
            "by_status": data["by_status"],
            "retracted": held["retracted"],
            "restated": held["restated"],
            "net": held["net"],
            "adjustments": adjustments.get(platform, {}),
            "not_planned": never.get(platform, []),
            "reasons": data["reasons"],
            "by_day": dict(sorted(data["by_day"].items())),
            "revenue_with_identifier": sent_rev.quantize(Decimal("0.01")),
            "match_rate": _rate(ratio(sent_rev, total_rev)),
        }
    return {
        "range": {"from": rng.start.isoformat(), "to": rng.end.isoformat()},
        "currency": currency,
        "won_revenue": total_rev.quantize(Decimal("0.01")),
        "journey_match_rate": _rate(ratio(matched_rev, total_rev)),
        "platforms": out_platforms,
        "spend_join": spend_join(session, rng, currency=currency, fx_rates=fx_rates),
    }


def _nothing_accepted() -> dict[str, Any]:
    zero = Decimal("0.00")
    return {
        "retracted": {"conversions": 0, "value": zero},
        "restated": {"conversions": 0, "value_change": zero},
        "net": {"conversions": 0, "value": zero},
    }


def _rate(value: Decimal | None) -> Decimal | None:
    return None if value is None else round(value, 4)
