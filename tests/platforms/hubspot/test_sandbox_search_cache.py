"""The sandbox keeps only its latest search answers, so a long keyset pull stays small."""

from __future__ import annotations

from platforms.hubspot.sandbox import (
    DEAL_DEFAULT_OUTPUT,
    DEAL_PROPERTIES,
    SEARCH_CACHE_SIZE,
    _ObjectStore,
)

MODIFIED = "hs_lastmodifieddate"


def after(ms: int) -> list[list[dict[str, str]]]:
    """A keyset restart: records modified after ``ms``."""
    return [[{"propertyName": MODIFIED, "operator": "GT", "value": str(ms)}]]


def test_a_keyset_pull_holds_a_bounded_number_of_answers() -> None:
    """30 restarts over 300 records: 8 answers kept, not 30; each still right (hand-counted)."""
    store = _ObjectStore("deals", dict(DEAL_PROPERTIES), DEAL_DEFAULT_OUTPUT)
    start = 1_790_000_000_000
    store.records.update({str(i): {MODIFIED: str(start + i)} for i in range(1, 301)})
    for page in range(30):
        ids = store.search(after(start + page * 10), [(MODIFIED, False)])
        # Records page*10+1 .. 300 are modified after start + page*10.
        assert ids[0] == str(page * 10 + 1) and len(ids) == 300 - page * 10
    assert SEARCH_CACHE_SIZE == 8
    assert len(store._cache) == 8
    again = store.search(after(start + 290), [(MODIFIED, False)])  # still cached: same answer
    assert again == [str(i) for i in range(291, 301)]
