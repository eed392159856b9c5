"""Keeping posted sales: a new order is stored, a changed one replaced, a repeat left alone.

Only a stored change moves ``modified_at``, the time the revenue step pages on, so a repeated
body is not even read again by the next sync.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from connector.identity import email_key
from connector.revenue.sales import deal_id, digest
from connector.storage.models import RevenueSale

STORED, UPDATED, UNCHANGED = "stored", "updated", "unchanged"


def store_sales(
    sessions: sessionmaker[Session], sales: list[dict[str, Any]], now: datetime
) -> list[str]:
    """Store the checked sales in one transaction; per sale: stored, updated or unchanged.

    The same order twice in ``sales`` is stored, then updated by the later one.

    Two calls racing to insert the same new order collide on the primary key; the loser
    retries once and then sees the winner's row, so neither answers with an error.
    """
    try:
        return _store(sessions, sales, now)
    except IntegrityError:
        return _store(sessions, sales, now)


def _store(
    sessions: sessionmaker[Session], sales: list[dict[str, Any]], now: datetime
) -> list[str]:
    ids = [deal_id(s["source"], s["order_id"]) for s in sales]
    results: list[str] = []
    with sessions.begin() as session:
        stored = {
            row.id: row
            for row in session.scalars(select(RevenueSale).where(RevenueSale.id.in_(ids)))
        }
        for sale, sale_id in zip(sales, ids, strict=True):
            hashed = digest(sale)
            row = stored.get(sale_id)
            if row is None:
                stored[sale_id] = row = RevenueSale(
                    id=sale_id,
                    source=sale["source"],
                    order_id=sale["order_id"],
                    sale=sale,
                    digest=hashed,
                    email_sha256=_email_key(sale),
                    visitor_id=sale.get("visitor_id"),
                    received_at=now,
                    modified_at=now,
                )
                session.add(row)  # a later sale of the same order in the batch updates it
                results.append(STORED)
            elif row.digest == hashed:
                results.append(UNCHANGED)
            else:
                row.sale, row.digest, row.modified_at = sale, hashed, now
                row.email_sha256, row.visitor_id = _email_key(sale), sale.get("visitor_id")
                results.append(UPDATED)
    return results


def _email_key(sale: dict[str, Any]) -> str | None:
    """The buyer's email hash as persons are keyed, so a privacy request finds the sale."""
    return email_key(sale["email"]) if sale.get("email") else None
