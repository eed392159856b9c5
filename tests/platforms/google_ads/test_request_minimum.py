"""The fewest requests a Data Manager batch costs: one ingest and one status look-up.

Google's diagnostics guide: an accepted ``IngestEvents`` only says the request was accepted
for processing; the events that then failed are reported by ``RetrieveRequestStatus``, whose
request takes a single ``request_id``. So a batch of up to 2,000 events costs 2 requests, and
``follow_up_requests`` (what bench/deliver.py adds to the minimum) must say 1 for it. The
ingest itself reads no status (Google would answer PROCESSING): the look-up is ``confirm``'s.
"""

from __future__ import annotations

import math

from platforms.base import Prepared

from .conftest import NOW


def test_each_ingest_is_followed_by_exactly_one_status_look_up(
    sandbox, make_destination, make_conversion
):
    """4,001 events: ⌈4001 / 2000⌉ = 3 ingests and 3 look-ups, nothing more."""
    adapter = make_destination()
    items = [adapter.prepare(make_conversion(), NOW) for _ in range(4001)]
    assert all(isinstance(p, Prepared) for p in items)
    refs = set()
    for start in range(0, len(items), adapter.max_batch):
        refs |= {o.ref for o in adapter.send(items[start : start + adapter.max_batch])}
    batches = math.ceil(4001 / 2000)
    assert sandbox.datamanager.calls == {"IngestEvents": batches}
    assert len(refs) == batches
    adapter.confirm(sorted(refs))
    assert sandbox.datamanager.calls["RetrieveRequestStatus"] == batches
    key = adapter.group_key(items[0])
    assert adapter.follow_up_requests(key) == 1


def test_validate_only_needs_no_look_up(sandbox, make_destination, make_conversion):
    """A dry run's validate_only ingest is processed nowhere, so there is no status to read."""
    adapter = make_destination(dry_run=True)
    item = adapter.prepare(make_conversion(), NOW)
    adapter.send([item])
    assert sandbox.datamanager.calls["RetrieveRequestStatus"] == 0
    assert adapter.follow_up_requests(adapter.group_key(item)) == 0


def test_google_ads_api_routes_need_no_look_up(make_destination):
    """Google Ads API uploads answer per item in the send itself (partial failure)."""
    adapter = make_destination()
    assert adapter.follow_up_requests("ads_api_adjustment:123") == 0
    assert adapter.follow_up_requests("ads_api_conversion:123") == 0
