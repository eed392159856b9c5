"""A privacy request reaches lead-value rows.

The person's predictions are deleted; their outbox rows are scrubbed like any deal's (their
``deal_id`` is ``lead:<key>``, see ``connector.leadvalue.plan.deal_id``).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, or_
from sqlalchemy.orm import Session

from connector.storage.models import LeadPrediction


def lead_deals(person_ids: Iterable[int], contact_ids: Iterable[str]) -> set[str]:
    """The outbox ``deal_id`` of every lead-stage row that can be the person's."""
    return {f"lead:p{p}" for p in person_ids} | {f"lead:c{c}" for c in contact_ids}


def forget(session: Session, person_ids: Iterable[int], contact_ids: Iterable[str]) -> int:
    """Delete the person's predictions; how many."""
    people, contacts = sorted(set(person_ids)), sorted(set(contact_ids))
    if not people and not contacts:
        return 0
    result = session.execute(
        delete(LeadPrediction)
        .where(or_(LeadPrediction.person_id.in_(people), LeadPrediction.contact_id.in_(contacts)))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)
