"""Customer figures of the source report: lifetime revenue of the customers a range won.

A customer is a CRM contact with a won deal. The customers "first won in the range" are the
new customers of :func:`connector.reports.sources.repeat_deal_conditions` (for none of its
contacts did the deal have an earlier won deal). Their **lifetime revenue** is the revenue of
every won deal of that contact to date (the range's deal and later ones, in the reporting
currency), credited to groups by the acquiring deal's attribution weights under the report's
model, so CLV answers "what is a customer this channel brought in worth so far". A deal with
several contacts counts the contact with the most revenue, once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, String, and_, func, literal, select, true, union_all
from sqlalchemy.orm import Session

from connector.storage.models import Attribution, Deal, Touchpoint, model_weight


def deal_contacts(session: Session) -> Any:
    """``Deal.contact_ids`` as a table of ``value`` rows, one per contact, for joins.

    The JSON array is unnested with each database's own function (PostgreSQL's
    ``json_array_elements_text``, SQLite's ``json_each``); every report that follows a deal to
    its contacts joins this with ``true()``.
    """
    if session.get_bind().dialect.name == "postgresql":
        return func.json_array_elements_text(Deal.contact_ids).table_valued("value")
    return func.json_each(Deal.contact_ids).table_valued("value")


def lifetime_revenue(
    session: Session,
    rng: Any,
    dim: ColumnElement[str],
    model: str,
    fx: ColumnElement[Any],
    has_journey: ColumnElement[bool],
) -> Iterable[tuple[Any, Any]]:
    """(group, lifetime revenue of the range's new customers); a NULL group for no journey."""
    contacts = deal_contacts(session)
    per_contact = (
        select(
            Deal.id.label("deal_id"),
            Deal.close_time.label("close_time"),
            func.row_number()
            .over(partition_by=contacts.c.value, order_by=(Deal.close_time, Deal.id))
            .label("nth"),
            func.sum(Deal.amount * fx).over(partition_by=contacts.c.value).label("life"),
        )
        .select_from(Deal)
        .join(contacts, true())
        .where(Deal.is_won.is_(True), Deal.close_time.is_not(None))
        .subquery("contact_life")
    )
    acquiring = (
        select(per_contact.c.deal_id, func.max(per_contact.c.life).label("life"))
        .where(per_contact.c.close_time >= rng.since, per_contact.c.close_time < rng.until)
        .group_by(per_contact.c.deal_id)
        .having(func.max(per_contact.c.nth) == 1)
        # Both halves of the union read it: as a CTE PostgreSQL computes the per-contact
        # windows once, not once per half (measured 2x on the bench's 100k deals).
        .cte("acquiring")
    )
    weight = model_weight(model)
    credited = (
        select(dim.label("grp"), func.sum(weight * acquiring.c.life))
        .select_from(Attribution)
        .join(acquiring, acquiring.c.deal_id == Attribution.deal_id)
        .join(Touchpoint, Touchpoint.id == Attribution.touchpoint_id)
        .where(weight > 0)
        .group_by(dim)
    )
    orphans = (
        select(literal(None, String()).label("grp"), func.sum(acquiring.c.life))
        .select_from(acquiring)
        .join(Deal, and_(Deal.id == acquiring.c.deal_id))
        .where(~has_journey)
    )
    return session.execute(union_all(credited, orphans))
