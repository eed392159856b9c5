"""What importing a CSV file would do, before anything is stored: the upload page's preview.

Two reads of the file, both streamed: the import's own check of every row
(``csv_import.check_file``: columns, mapping, bad rows by line, memory flat whatever the
size), and the first ``PREVIEW_ROWS`` good rows taken as the sync would take them: as deals
of the source, matched to journeys and planned against what is stored, by the sync's own
matching and planning (``SyncStep.plan_preview``), read only. So the preview's "would be sent"
is what a run would put in the outbox for those rows (a platform can still refuse an item when
it is sent); the figures of later rows are not estimated, the page says how many rows they
cover.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connector.revenue.csv_import import Report, check_file, checked_rows, would_store
from connector.revenue.sales import deal_id
from connector.revenue.source import as_deal, source_pipeline
from connector.revenue.step import RevenueStep
from connector.runtime import Runtime
from connector.storage.models import utcnow
from connector.sync.match import MATCHED
from connector.sync.plan import PlanSettings
from connector.sync.stages import StageBook
from connector.sync.step import SyncTotals

#: Good rows matched and planned for the preview (the whole file is still checked).
PREVIEW_ROWS = 1000


@dataclass
class Preview:
    """The check of the whole file, and what its first good rows would become."""

    report: Report
    #: Good rows previewed (at most ``PREVIEW_ROWS``, the first ones of the file).
    sampled: int = 0
    #: Among them: would be stored (new), updated (changed) or unchanged (already stored).
    outcomes: Counter[str] = field(default_factory=Counter)
    #: Journey statuses of the sampled sales (``matched``: a tracked journey was found).
    match: Counter[str] = field(default_factory=Counter)
    #: Per destination: conversions, restatements, retractions that would be sent.
    planned: dict[str, Counter[str]] = field(default_factory=dict)
    #: Per destination: why a sampled sale would not be sent there, with counts.
    not_planned: dict[str, Counter[str]] = field(default_factory=dict)
    #: Sales that plan nothing at all because of their data (code -> count).
    skipped: Counter[str] = field(default_factory=Counter)
    destinations: list[str] = field(default_factory=list)

    @property
    def matched(self) -> int:
        """Sampled sales whose buyer has a tracked journey."""
        return self.match.get(MATCHED, 0)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able, for tests and an API caller."""
        return {
            "report": self.report.as_dict(),
            "sampled": self.sampled,
            "outcomes": dict(self.outcomes),
            "matched": self.matched,
            "match": dict(self.match),
            "planned": {d: dict(c) for d, c in self.planned.items()},
            "not_planned": {d: dict(c) for d, c in self.not_planned.items()},
            "skipped": dict(self.skipped),
            "destinations": self.destinations,
        }


def preview_file(
    runtime: Runtime,
    path: Path,
    mapping: dict[str, str],
    source: str,
    *,
    limit: int = PREVIEW_ROWS,
) -> Preview:
    """Check the whole file and plan its first ``limit`` good rows; nothing is written."""
    preview = Preview(check_file(path, mapping, source))
    if preview.report.unreadable is not None or not preview.report.rows:
        return preview
    sales: list[dict[str, Any]] = []
    for _, sale, errors in checked_rows(path, mapping, source):
        if sale is not None and not errors:
            sales.append(sale)
            if len(sales) >= limit:
                break
    _plan(runtime, sales, preview)
    return preview


def _plan(runtime: Runtime, sales: list[dict[str, Any]], preview: Preview) -> None:
    """The sync's matching and planning over the sampled sales, read only."""
    settings, profile = runtime.settings, runtime.profile
    now = utcnow()
    preview.sampled = len(sales)
    if not sales:
        return
    preview.outcomes.update(would_store(runtime, sales))
    deals = [as_deal(deal_id(s["source"], s["order_id"]), now, s) for s in sales]
    cfg = PlanSettings(
        settings, tuple(n for n in settings.platforms.enabled() if n != profile.crm), now
    )
    preview.destinations = list(cfg.destinations)
    sources = sorted({s["source"] for s in sales})  # a row may name its own
    book = StageBook.build(profile, [source_pipeline(name) for name in sources])
    totals = SyncTotals()
    with runtime.sessions() as session:
        planned = RevenueStep().plan_preview(session, deals, profile, book, cfg, totals)
    for row in planned.outbox:
        preview.planned.setdefault(row["destination"], Counter())[row["kind"]] += 1
    preview.match = Counter(totals.match)
    preview.not_planned = {d: Counter(c) for d, c in totals.not_planned.items()}
    preview.skipped = Counter(totals.skipped)
