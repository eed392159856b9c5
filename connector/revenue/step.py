"""The revenue step: the sync step over posted sales instead of the CRM.

Same pages, matching, attribution, planning and one transaction per page as the CRM sync (it
is ``SyncStep``); only where the deals come from, the cursor and the summary key differ. It
ignores a run's CRM deal IDs (a CRM webhook's run) but honours ``since`` (a backfill).
"""

from __future__ import annotations

from collections.abc import Iterator

from connector.config import Settings
from connector.mapping import MappingProfile
from connector.revenue.source import RevenueSource
from connector.runs import RunContext
from connector.sync import store
from connector.sync.pull import since_from_cursor
from connector.sync.step import SyncStep
from platforms.crm import CrmDeal, CrmSource

ORIGIN = "revenue"
CURSOR = "revenue.sales.modified"
PENDING = "revenue.pending."


class RevenueStep(SyncStep):
    """Posted sales → match → attribute → plan, under the run's lease."""

    name = "revenue"
    summary_key = "revenue"

    def _source(self, ctx: RunContext, settings: Settings, profile: MappingProfile) -> CrmSource:
        return RevenueSource(ctx.runtime.sessions)

    def _origin(self, profile: MappingProfile) -> str:
        return ORIGIN

    def _cursor_name(self, profile: MappingProfile) -> str:
        return CURSOR

    def _pending_prefix(self, profile: MappingProfile) -> str:
        return PENDING

    def _health(self, ctx: RunContext, crm: str, error: str | None) -> None:
        """Our own table, not an outside system: its failures are the run's errors."""
        if error is not None:
            ctx.errors[ORIGIN] = error

    def _pages(
        self, ctx: RunContext, source: CrmSource, profile: MappingProfile
    ) -> Iterator[tuple[list[CrmDeal], bool, list[str]]]:
        with ctx.runtime.sessions() as session:
            cursor = store.read_cursor(session, CURSOR)
        since = ctx.since if ctx.since is not None else since_from_cursor(cursor)
        for page in source.deals_changed_since(since):
            yield page, True, []
