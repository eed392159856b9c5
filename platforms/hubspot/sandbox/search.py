"""Range lookups for the sandbox's search, so keyset paging does not rescan the whole CRM.

A "changed since" pull restarts its search from the last modified time on every page, so each
page is a new query. Answered by a scan and a sort of every record, a pull of n records costs
O(n²): 100,000 deals took the sandbox minutes, and the benchmark's end-to-end figure measured
the sandbox instead of the connector. Queries sorted ascending on a property that every filter
group bounds (``GT``/``GTE``/``EQ``/``LT``/``LTE``/``BETWEEN``) are answered here from that
property's sorted index by bisection; any other query takes the scan. Both give the same
answer (``tests/platforms/hubspot/test_sandbox_search_index.py`` holds them to it).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping
from itertools import chain, pairwise
from typing import Any

RANGE_OPERATORS = frozenset({"GT", "GTE", "EQ", "LT", "LTE", "BETWEEN"})

Comparable = Callable[[str, Any], Any]
Filter = dict[str, Any]


class SortedIndex:
    """The records holding one property, ordered as the search sorts them ascending.

    The order is (comparable value, numeric ID): the scan sorts by ID, then stably by value.
    Records whose value no filter can match (empty, or not a date or number where one is
    expected) are left out; a range filter never selects them.
    """

    def __init__(self, records: Mapping[str, Mapping[str, Any]], name: str, comparable: Comparable):
        entries = []
        for record_id, values in records.items():
            raw = values.get(name)
            if raw in (None, ""):
                continue
            key = comparable(name, raw)
            if key is not None:
                entries.append((key, int(record_id), record_id))
        entries.sort()
        self.keys = [e[0] for e in entries]
        self.ids = [e[2] for e in entries]

    def span(self, flt: Filter, name: str, comparable: Comparable) -> tuple[int, int]:
        """Positions [start, end) of the records one range filter selects."""
        op = flt["operator"]
        if op == "BETWEEN":
            low = comparable(name, flt.get("value"))
            high = comparable(name, flt.get("highValue"))
            if low is None or high is None:
                return 0, 0
            return bisect_left(self.keys, low), bisect_right(self.keys, high)
        wanted = comparable(name, flt.get("value"))
        if wanted is None:
            return 0, 0
        end = len(self.keys)
        if op == "GT":
            return bisect_right(self.keys, wanted), end
        if op == "GTE":
            return bisect_left(self.keys, wanted), end
        if op == "LT":
            return 0, bisect_left(self.keys, wanted)
        if op == "LTE":
            return 0, bisect_right(self.keys, wanted)
        return bisect_left(self.keys, wanted), bisect_right(self.keys, wanted)  # EQ


def indexed_search(
    groups: list[list[Filter]],
    sorts: list[tuple[str, bool]],
    index_of: Callable[[str], SortedIndex],
    comparable: Comparable,
    matches: Callable[[Filter, Mapping[str, Any]], bool],
    records: Mapping[str, Mapping[str, Any]],
) -> list[str] | None:
    """The matching IDs in sorted order, or None when the query needs the full scan.

    Applies to a query sorted ascending by one property, whose every filter group bounds that
    property: each group's records are then a slice of the index, narrowed by the group's
    other filters; groups are OR'ed, each record once.
    """
    if len(sorts) != 1 or sorts[0][1] or not groups:
        return None
    name = sorts[0][0]
    bounded = [[f for f in g if _bounds(f, name)] for g in groups]
    if not all(bounded):
        return None
    index = index_of(name)
    pieces: list[tuple[int, int, list[str]]] = []  # (start, end, the IDs selected in it)
    for group, bounds in zip(groups, bounded, strict=True):
        start, end = 0, len(index.ids)
        for flt in bounds:
            low, high = index.span(flt, name, comparable)
            start, end = max(start, low), min(end, high)
        if start >= end:
            continue
        rest = [f for f in group if f not in bounds]
        selected = index.ids[start:end]
        if rest:
            selected = [i for i in selected if all(matches(f, records[i]) for f in rest)]
        pieces.append((start, end, selected))
    pieces.sort(key=lambda piece: piece[0])
    if all(a[1] <= b[0] for a, b in pairwise(pieces)):  # disjoint: already in order
        return list(chain.from_iterable(selected for _, _, selected in pieces))
    position = {record_id: p for p, record_id in enumerate(index.ids)}
    return sorted({i for _, _, selected in pieces for i in selected}, key=position.__getitem__)


def _bounds(flt: Filter, name: str) -> bool:
    """Whether a filter bounds ``name`` to a range."""
    return flt["propertyName"] == name and flt["operator"] in RANGE_OPERATORS
