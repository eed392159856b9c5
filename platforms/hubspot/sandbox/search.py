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
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import pairwise
from typing import Any, overload

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


class Pieces(Sequence[str]):
    """Slices of an index's IDs read as one list, without copying them.

    A keyset restart selects every record after the last one read: copied into a list, a pull
    of n records moved O(n^2) IDs (1M deals: minutes of the sandbox's CPU for IDs no page
    shows). A page reads only its ``[after:after + limit]`` here; ``len`` is the search's
    ``total``. Compares equal to the list it stands for.
    """

    def __init__(self, parts: list[tuple[list[str], int, int]]) -> None:
        self._parts = [(ids, start, end) for ids, start, end in parts if end > start]
        self._len = sum(end - start for _, start, end in self._parts)

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[str]:
        for ids, start, end in self._parts:
            for at in range(start, end):  # not islice: it would step over the first `start`
                yield ids[at]

    @overload
    def __getitem__(self, at: int) -> str: ...

    @overload
    def __getitem__(self, at: slice) -> list[str]: ...

    def __getitem__(self, at: int | slice) -> str | list[str]:
        if isinstance(at, slice):
            start, stop, step = at.indices(self._len)
            if step != 1:
                return list(self)[at]
            return self._range(start, stop)
        if at < 0:
            at += self._len
        if not 0 <= at < self._len:
            raise IndexError(at)
        return self._range(at, at + 1)[0]

    def _range(self, start: int, stop: int) -> list[str]:
        out: list[str] = []
        for ids, first, end in self._parts:
            size = end - first
            if start < size and stop > 0:
                out.extend(ids[first + max(start, 0) : first + min(stop, size)])
            start, stop = start - size, stop - size
            if stop <= 0:
                break
        return out

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(other) == self._len and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Pieces({list(self)!r})"


def indexed_search(
    groups: list[list[Filter]],
    sorts: list[tuple[str, bool]],
    index_of: Callable[[str], SortedIndex],
    comparable: Comparable,
    matches: Callable[[Filter, Mapping[str, Any]], bool],
    records: Mapping[str, Mapping[str, Any]],
) -> Sequence[str] | None:
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
    # (start, end, the IDs selected in it: the index's own list when no other filter narrows
    # the slice, read in place; otherwise the few IDs left, as a new list)
    pieces: list[tuple[int, int, list[str]]] = []
    for group, bounds in zip(groups, bounded, strict=True):
        start, end = 0, len(index.ids)
        for flt in bounds:
            low, high = index.span(flt, name, comparable)
            start, end = max(start, low), min(end, high)
        if start >= end:
            continue
        rest = [f for f in group if f not in bounds]
        if rest:
            span = index.ids[start:end]  # a copy of the span; islice would walk up to `start`
            selected = [i for i in span if all(matches(f, records[i]) for f in rest)]
            pieces.append((start, end, selected))
        else:
            pieces.append((start, end, index.ids))
    pieces.sort(key=lambda piece: piece[0])
    if all(a[1] <= b[0] for a, b in pairwise(pieces)):  # disjoint: already in order
        return Pieces(
            [
                (ids, start, end) if ids is index.ids else (ids, 0, len(ids))
                for start, end, ids in pieces
            ]
        )
    position = {record_id: p for p, record_id in enumerate(index.ids)}
    chosen = {
        i for start, end, ids in pieces for i in (ids[start:end] if ids is index.ids else ids)
    }
    return sorted(chosen, key=position.__getitem__)


def _bounds(flt: Filter, name: str) -> bool:
    """Whether a filter bounds ``name`` to a range."""
    return flt["propertyName"] == name and flt["operator"] in RANGE_OPERATORS
