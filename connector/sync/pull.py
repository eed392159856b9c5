"""Where the deals come from: the CRM source named by the profile, and the pull cursor.

The cursor is the newest ``modified`` time committed; the next pull starts ``OVERLAP`` earlier,
so a deal modified while the previous run was paging is seen again rather than missed (seeing
it twice is harmless: unchanged deals plan nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import platforms
from connector.config import Settings
from connector.mapping import MappingProfile
from connector.sync.deals import parse_time
from platforms.crm import CrmDeal, CrmSource

OVERLAP = timedelta(minutes=10)
CURSOR = "{crm}.deals.modified"
PENDING = "{crm}.pending."
BY_ID_BATCH = 100

SourceFactory = Callable[[Settings, MappingProfile], CrmSource]


def default_source(settings: Settings, profile: MappingProfile) -> CrmSource:
    """The registered CRM source for the profile's CRM, built from its platform settings."""
    cls = platforms.load(platforms.CRM_SOURCES[profile.crm])
    return cls(
        getattr(settings.platforms, profile.crm),
        profile,
        timeout=settings.delivery.request_timeout_seconds,
    )


def cursor_name(profile: MappingProfile) -> str:
    """The cursor row for this CRM's deals."""
    return CURSOR.format(crm=profile.crm)


def pending_prefix(profile: MappingProfile) -> str:
    """The cursor-name prefix of deal IDs remembered for the next run."""
    return PENDING.format(crm=profile.crm)


def since_from_cursor(value: str | None) -> datetime | None:
    """Where to start: the stored time minus the overlap (None pulls everything)."""
    if not value:
        return None
    at = parse_time(value)
    return at - OVERLAP if at else None


def pages_by_id(source: CrmSource, deal_ids: list[str]) -> Iterator[list[CrmDeal]]:
    """Specific deals, a batch per page."""
    for start in range(0, len(deal_ids), BY_ID_BATCH):
        yield source.deals_by_id(deal_ids[start : start + BY_ID_BATCH])


def requests_made(source: Any) -> int:
    """The source's request counter, if it keeps one."""
    return int(getattr(source, "requests_made", 0) or 0)
