"""Outbox rows as adapters see them."""

from __future__ import annotations

from connector.storage.models import Conversion
from platforms.base import Identifiers, PlannedConversion


def planned_from_row(row: Conversion) -> PlannedConversion:
    """The immutable view of one ``conversions`` row that ``Destination.prepare`` takes."""
    return PlannedConversion(
        id=row.id,
        deal_id=row.deal_id,
        destination=row.destination,
        kind=row.kind,
        event_name=row.event_name,
        dedup_key=row.dedup_key,
        value=row.value,
        currency=row.currency,
        event_time=row.event_time,
        identifiers=Identifiers.from_json(row.identifiers),
        attempts=row.attempts or 0,
        adjusts_key=row.adjusts_key,
        options=dict(row.options or {}),
    )
