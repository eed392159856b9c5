"""Pages are written while the next is planned; a deal on two pages still sees its own write."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any

from tests.sync.conftest import NOW, Syncer, outbox, won_deal

#: How long the first page's write is held up (PostgreSQL): long enough for the next page to
#: be planned meanwhile, were it planned without waiting.
HOLD_SECONDS = 0.5


class ChangedWhilePaging:
    """The real HubSpot source, whose last deal changes while the run pages.

    HubSpot then returns it again on a later page (the cursor's overlap exists for this):
    the second sighting must be planned from what the first one stored. On PostgreSQL, where
    the first page is written on another thread, that write is held up (the cursor table is
    locked from another connection) while the second page is read.
    """

    def __init__(self, source: Any, hubspot: Any, deal: str, runtime: Any) -> None:
        self.source, self.hubspot, self.deal, self.runtime = source, hubspot, deal, runtime

    def __getattr__(self, name: str) -> Any:
        return getattr(self.source, name)

    def deals_changed_since(self, since: Any, *, progress: Any = None) -> Any:
        hold = self._hold_writes()
        yield from self.source.deals_changed_since(since, progress=progress)
        if hold is not None:
            threading.Timer(HOLD_SECONDS, hold).start()
        self.hubspot.update_deal(self.deal, amount="1500")
        yield self.source.deals_by_id([self.deal])

    def _hold_writes(self) -> Any:
        if self.runtime.engine.dialect.name != "postgresql":
            return None  # SQLite writes each page before the next is read
        conn = self.runtime.engine.connect()
        conn.exec_driver_sql("LOCK TABLE cursors IN SHARE ROW EXCLUSIVE MODE")

        def release() -> None:
            conn.commit()
            conn.close()

        return release


def test_a_deal_on_consecutive_pages_is_restated_not_planned_twice(
    hubspot, seed, sync_runtime, clock
):
    contact = hubspot.add_contact({"email": "ann@example.com"})
    visitor = seed.visitor(seed.person("ann@example.com"))
    seed.touch(visitor, NOW - timedelta(days=3), click=("gclid", "G-ANN"))
    deal = won_deal(hubspot, [contact], amount="1000")
    sync = Syncer(
        sync_runtime,
        clock,
        wrap=lambda s: ChangedWhilePaging(s, hubspot, deal, sync_runtime),
    )

    assert sync() == "succeeded", sync.last["error"]
    google = sorted((r[2], Decimal(r[5])) for r in outbox(sync_runtime) if r[1] == "google_ads")
    assert google == [("conversion", Decimal(1000)), ("restatement", Decimal(1500))]
