"""The posted sales as a CRM source: what the sync pulls, so sales take the deals' path.

Each stored sale becomes a ``CrmDeal`` in the pipeline ``revenue:<source>`` whose one contact
carries the buyer's identifiers; a sale is won until it is refunded or cancelled, which the
sync then retracts like a deal leaving closed-won. A source takes no contact writes: it is not
a CRM.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session, sessionmaker

from connector.revenue.sales import pipeline
from connector.storage.models import RevenueSale
from platforms.crm import (
    ContactWrite,
    CrmContact,
    CrmDeal,
    CrmPipeline,
    CrmStage,
    Outcomes,
)

PAGE = 500
#: The stage of a sale that stands.
SALE = "sale"
#: A source's stages in order: (stage, label, won).
STAGES = ((SALE, "Sale", True), ("refunded", "Refunded", False), ("cancelled", "Cancelled", False))


def as_deal(row_id: str, modified: datetime, sale: dict[str, Any]) -> CrmDeal:
    """The deal the sync sees for a stored sale."""
    status = sale.get("status")
    clicks = sale.get("click_ids") or {}
    identifiers = {
        "email": sale.get("email"),
        "phone": sale.get("phone"),
        "visitor_id": sale.get("visitor_id"),
        "gclid": clicks.get("gclid"),
        "fbclid": clicks.get("fbclid"),
    }
    contact_id = sale.get("crm_contact_id")
    contacts: tuple[CrmContact, ...] = ()
    if contact_id or any(identifiers.values()):
        # Without a CRM contact ID the sale is its own buyer: no stored person has that ID.
        contacts = (CrmContact(id=contact_id or row_id, **identifiers),)
    return CrmDeal(
        id=row_id,
        modified_time=modified,
        name=f"{sale['source']} order {sale['order_id']}",
        pipeline=pipeline(sale["source"]),
        stage=status or SALE,
        amount=sale["value"],
        currency=sale["currency"],
        close_date=sale["time"],
        created_time=datetime.fromisoformat(sale["time"]),
        is_closed_won=status is None,
        is_closed=True,
        contacts=contacts,
    )


def source_pipeline(source: str) -> CrmPipeline:
    """A source's pipeline: a sale is won, refunded or cancelled."""
    return CrmPipeline(
        pipeline(source),
        f"{source} (revenue)",
        tuple(
            CrmStage(stage, label, order, 1.0 if won else 0.0, True, won)
            for order, (stage, label, won) in enumerate(STAGES)
        ),
    )


class RevenueSource:
    """``CrmSource`` over ``revenue_sales``: pages of sales in ``modified_at`` order."""

    requests_made = 0

    def __init__(self, sessions: sessionmaker[Session], page_size: int = PAGE) -> None:
        self.sessions = sessions
        self.page_size = page_size

    def deals_changed_since(
        self, since: datetime | None, *, progress: object | None = None
    ) -> Iterator[list[CrmDeal]]:
        """Sales stored or changed at or after ``since``, oldest first, by keyset pages."""
        after: tuple[datetime, str] | None = None
        while True:
            query = select(RevenueSale.id, RevenueSale.modified_at, RevenueSale.sale)
            if since is not None:
                query = query.where(RevenueSale.modified_at >= since)
            if after is not None:
                query = query.where(
                    tuple_(RevenueSale.modified_at, RevenueSale.id) > tuple_(*after)
                )
            query = query.order_by(RevenueSale.modified_at, RevenueSale.id).limit(self.page_size)
            with self.sessions() as session:
                rows = session.execute(query).all()
            if not rows:
                return
            yield [as_deal(r.id, r.modified_at, r.sale) for r in rows]
            if len(rows) < self.page_size:
                return
            after = (rows[-1].modified_at, rows[-1].id)

    def deals_by_id(self, ids: list[str]) -> list[CrmDeal]:
        """The stored sales among ``ids`` (others are not ours)."""
        if not ids:
            return []
        query = select(RevenueSale.id, RevenueSale.modified_at, RevenueSale.sale).where(
            RevenueSale.id.in_(ids)
        )
        with self.sessions() as session:
            return [as_deal(r.id, r.modified_at, r.sale) for r in session.execute(query)]

    def contacts_changed_since(
        self, since: datetime | None, *, progress: object | None = None
    ) -> Iterator[list[CrmContact]]:
        """None: a sale's buyer has no lifecycle."""
        return iter(())

    def pipelines(self) -> list[CrmPipeline]:
        """One pipeline per source with sales: a sale is won, refunded or cancelled.

        Stored like the CRM's, so the opportunity report lists a source's stages by name.
        """
        with self.sessions() as session:
            sources = sorted(session.scalars(select(RevenueSale.source).distinct()))
        return [source_pipeline(source) for source in sources]

    def ensure_contact_properties(self, properties: dict[str, str], group_name: str) -> None:
        """Refused: a revenue source is not written to."""
        raise NotImplementedError("a revenue source takes no contact properties")

    def upsert_contact(
        self, email: str | None, phone: str | None, properties: dict[str, str]
    ) -> str:
        """Refused: a revenue source is not written to."""
        raise NotImplementedError("a revenue source takes no contact writes")

    def clear_contact_properties(self, contact_ids: list[str], properties: list[str]) -> int:
        """Refused: a revenue source is not written to."""
        raise NotImplementedError("a revenue source takes no contact writes")

    def upsert_contacts(self, writes: list[ContactWrite]) -> Outcomes:
        """Refused: a revenue source is not written to."""
        raise NotImplementedError("a revenue source takes no contact writes")
