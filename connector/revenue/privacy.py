"""A privacy request reaches posted sales: the buyer's identifiers leave them, the sale stays.

The order, its value and time stay (with the digest, so a repeat of the same body stays
``unchanged`` and brings nothing back), and so does its deal with its dedup keys: a later sync
re-plans nothing. Email, phone, CRM contact ID, visitor ID and click IDs are removed.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from connector.storage.models import RevenueSale

#: What identifies the buyer in a stored sale.
BUYER_FIELDS = ("email", "phone", "crm_contact_id", "visitor_id", "click_ids")


def buyer_sales(session: Session, email_keys: set[str], visitor_ids: set[str]) -> set[str]:
    """The deal IDs of the sales bought under these email hashes or visitor IDs."""
    if not email_keys and not visitor_ids:
        return set()
    query = select(RevenueSale.id).where(
        or_(
            RevenueSale.email_sha256.in_(sorted(email_keys)),
            RevenueSale.visitor_id.in_(sorted(visitor_ids)),
        )
    )
    return set(session.scalars(query))


def strip_buyer(session: Session, sale_ids: set[str]) -> int:
    """Remove the buyer's identifiers from these sales; how many were changed."""
    changed = 0
    for row in session.scalars(select(RevenueSale).where(RevenueSale.id.in_(sorted(sale_ids)))):
        row.sale = {k: v for k, v in row.sale.items() if k not in BUYER_FIELDS}
        row.email_sha256 = row.visitor_id = None
        changed += 1
    return changed
