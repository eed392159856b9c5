"""Each revenue source's CSV mapping, kept so its next file needs no mapping again.

Saved when a file is imported from the upload page (never by a preview: nothing is stored
before the import is confirmed), and offered for the same source's next upload.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connector.revenue.csv_import import TARGETS
from connector.storage.models import RevenueMapping, utcnow


def saved_mapping(sessions: sessionmaker[Session], source: str) -> dict[str, str]:
    """The source's last imported mapping ({} if none); fields no longer known are dropped."""
    with sessions() as session:
        mapping = session.scalar(
            select(RevenueMapping.mapping).where(RevenueMapping.source == source)
        )
    return {c: f for c, f in (mapping or {}).items() if f == "" or f in TARGETS}


def save_mapping(sessions: sessionmaker[Session], source: str, mapping: dict[str, str]) -> None:
    """Keep ``mapping`` as the source's (replacing the one before)."""
    with sessions.begin() as session:
        row = session.get(RevenueMapping, source)
        if row is None:
            session.add(RevenueMapping(source=source, mapping=dict(mapping), updated_at=utcnow()))
        else:
            row.mapping, row.updated_at = dict(mapping), utcnow()
