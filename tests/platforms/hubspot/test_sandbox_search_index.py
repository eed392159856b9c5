"""The sandbox's indexed search answers exactly as the full scan does, and keyset pages use it."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from platforms.hubspot.sandbox import DEAL_DEFAULT_OUTPUT, DEAL_PROPERTIES, _ObjectStore

MODIFIED = "hs_lastmodifieddate"
TIMES = [
    "2026-11-01T10:00:00Z",
    "2026-11-01T10:00:00.000Z",  # the same instant, written differently
    "2026-11-01T10:00:00.001Z",
    "2026-11-02T08:30:00Z",
    "1793530800000",  # epoch milliseconds, as HubSpot also accepts
]
STAGES = ["closedwon", "ClosedWon", "appointmentscheduled", "qualifiedtobuy"]

stored_value = {
    MODIFIED: st.sampled_from([None, "", "not a date", *TIMES]),
    "amount": st.sampled_from([None, "", "abc", "0", "10", "10.0", "250.5", "-3"]),
    "dealstage": st.sampled_from([None, "", *STAGES]),
}
filter_value = {
    MODIFIED: st.sampled_from(["not a date", *TIMES]),
    "amount": st.sampled_from(["abc", "0", "10", "99", "-3"]),
    "dealstage": st.sampled_from(STAGES),
}
OPERATORS = ["GT", "GTE", "EQ", "LT", "LTE", "BETWEEN", "NEQ", "IN", "NOT_IN", "HAS_PROPERTY"]


@st.composite
def records(draw: Any) -> dict[str, dict[str, str | None]]:
    ids = draw(st.lists(st.integers(1, 500), unique=True, max_size=30))
    return {
        str(i): {name: draw(values) for name, values in stored_value.items()} | {"x": str(i)}
        for i in ids
    }


@st.composite
def a_filter(draw: Any, name: str | None = None) -> dict[str, Any]:
    name = name or draw(st.sampled_from(sorted(stored_value)))
    op = draw(st.sampled_from(OPERATORS))
    flt: dict[str, Any] = {"propertyName": name, "operator": op}
    if op in ("IN", "NOT_IN"):
        flt["values"] = draw(st.lists(filter_value[name], max_size=3))
    elif op == "BETWEEN":
        flt["value"], flt["highValue"] = draw(filter_value[name]), draw(filter_value[name])
    elif op != "HAS_PROPERTY":
        flt["value"] = draw(filter_value[name])
    return flt


@st.composite
def queries(draw: Any) -> tuple[list[list[dict[str, Any]]], list[tuple[str, bool]]]:
    sort_by = draw(st.sampled_from(sorted(stored_value)))
    descending = draw(st.sampled_from([False, False, False, True]))  # mostly ascending
    groups = []
    for _ in range(draw(st.integers(1, 3))):
        # Mostly groups bounding the sort property (what the index answers), with extra filters.
        group = [draw(a_filter(sort_by))] if draw(st.integers(0, 4)) else []
        group += draw(st.lists(a_filter(), max_size=2))
        if group:
            groups.append(group)
    return groups, [(sort_by, descending)]


def store_of(rows: dict[str, dict[str, str | None]]) -> _ObjectStore:
    store = _ObjectStore("deals", dict(DEAL_PROPERTIES), DEAL_DEFAULT_OUTPUT)
    store.records.update(rows)
    return store


@settings(max_examples=400, deadline=None)
@given(rows=records(), query=queries())
def test_indexed_search_answers_as_the_scan(rows: Any, query: Any) -> None:
    groups, sorts = query
    assert store_of(rows).search(groups, sorts) == store_of(rows).scan(groups, sorts)


def keyset_query(after_ms: str, excluded: list[str]) -> list[list[dict[str, Any]]]:
    """What the pull sends on a restarted page (``platforms/hubspot/paging.py``)."""
    return [
        [{"propertyName": MODIFIED, "operator": "GT", "value": after_ms}],
        [
            {"propertyName": MODIFIED, "operator": "EQ", "value": after_ms},
            {"propertyName": "hs_object_id", "operator": "NOT_IN", "values": excluded},
        ],
    ]


def test_keyset_pages_never_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pull's restarted pages are answered from the index, and right, after a change too."""
    rows = {
        str(i): {MODIFIED: str(1_790_000_000_000 + i // 3), "hs_object_id": str(i)}
        for i in range(1, 301)
    }
    store = store_of(rows)
    expected = store.scan(keyset_query("1790000000050", ["150"]), [(MODIFIED, False)])
    monkeypatch.setattr(store, "scan", lambda *_: pytest.fail("scanned every record"))

    got = store.search(keyset_query("1790000000050", ["150"]), [(MODIFIED, False)])
    assert got == expected
    assert got[:2] == ["151", "152"] and got[2] == "153"  # 150 left out; ties by ID

    store.records["151"][MODIFIED] = "1790000000999"  # modified mid-pull: moves to the end
    store.touch()
    moved = store.search(keyset_query("1790000000050", ["150"]), [(MODIFIED, False)])
    assert moved[0] == "152" and moved[-1] == "151"
