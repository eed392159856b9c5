"""Sales from a CSV file: checked whole first, stored only when every row is good.

The file is read twice, as a stream: once to check every row (nothing stored), once to store
the good rows in batches. Memory stays flat whatever the file's size: only a batch and the
first errors are held. Each row is a sale as ``POST /revenue`` takes it (the same checks, the
same dedup by order ID), so importing the same file again changes nothing.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from connector.revenue.sales import FIELDS, check_sale, deal_id, digest
from connector.revenue.store import STORED, UNCHANGED, UPDATED, store_sales
from connector.runtime import Runtime
from connector.storage.models import RevenueSale, utcnow
from connector.sync.match import CRM_CLICK_KINDS

BATCH = 500
#: Errors kept for the report; the rest are only counted.
KEEP_ERRORS = 100
#: What a column can be mapped to: a sale's fields, and each click ID kind on its own.
TARGETS = tuple(f for f in FIELDS if f != "click_ids") + CRM_CLICK_KINDS


@dataclass(frozen=True)
class RowError:
    """A bad field of a row: its line in the file (the header is line 1)."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


@dataclass
class Report:
    """What an import did (or, checked only, would do)."""

    columns: list[str] = field(default_factory=list)
    mapping: dict[str, str] = field(default_factory=dict)
    rows: int = 0
    bad_rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    errors_by_field: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    imported: bool = False
    #: Why the file could not be read to its end (nothing is imported then).
    unreadable: RowError | None = None

    def as_dict(self) -> dict[str, Any]:
        """For ``--json``."""
        return {
            "columns": self.columns,
            "mapping": self.mapping,
            "rows": self.rows,
            "bad_rows": self.bad_rows,
            "errors": [e.__dict__ for e in self.errors],
            "errors_by_field": dict(self.errors_by_field),
            "outcomes": {k: self.outcomes.get(k, 0) for k in (STORED, UPDATED, UNCHANGED)},
            "imported": self.imported,
            "unreadable": self.unreadable.__dict__ if self.unreadable else None,
        }


def parse_mapping(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``column=field`` pairs as {column: field}; ``ValueError`` naming a bad pair."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        column, sep, target = pair.partition("=")
        if not sep or not column.strip() or target.strip() not in TARGETS:
            raise ValueError(f"{pair!r}: give COLUMN=FIELD, FIELD one of {', '.join(TARGETS)}")
        mapping[column.strip()] = target.strip()
    return mapping


def resolve(columns: list[str], given: dict[str, str]) -> dict[str, str]:
    """Each column's field: the ``--map`` ones, then columns named like a field.

    A column given an empty field is left out, even when it is named like one (the upload
    page's "ignore").
    """
    mapping = {c: given[c] for c in columns if c in given}
    for column in columns:
        name = column.strip().lower()
        if column not in mapping and name in TARGETS and name not in mapping.values():
            mapping[column] = name
    return {c: f for c, f in mapping.items() if f}


class UnreadableFile(Exception):
    """The file is not a UTF-8 CSV from some line on (binary, another encoding, a huge cell)."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


def _reader(path: Path) -> Iterator[tuple[list[str], Iterator[tuple[int, dict[str, str]]]]]:
    """The header and the rows, each with its line; ``UnreadableFile`` where reading fails."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        try:
            columns = list(reader.fieldnames or [])
        except (csv.Error, UnicodeDecodeError) as exc:
            raise UnreadableFile(1, _why(exc)) from None
        yield columns, _rows(reader)


def _rows(reader: csv.DictReader[str]) -> Iterator[tuple[int, dict[str, str]]]:
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except (csv.Error, UnicodeDecodeError) as exc:
            raise UnreadableFile(reader.line_num + 1, _why(exc)) from None
        yield reader.line_num, row


def _why(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text (save the file as CSV UTF-8)"
    return f"not a CSV file ({exc})"


def columns_of(path: Path) -> list[str]:
    """The file's header (``UnreadableFile`` if it cannot be read)."""
    for columns, _ in _reader(path):
        return columns
    return []


def _sale(row: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    """The row as a sale body: blank cells left out, click ID columns gathered."""
    sale: dict[str, Any] = {}
    clicks: dict[str, str] = {}
    for column, target in mapping.items():
        value = row.get(column)
        if value is None or not str(value).strip():
            continue
        if target in CRM_CLICK_KINDS:
            clicks[target] = str(value).strip()
        else:
            sale[target] = str(value).strip()
    if clicks:
        sale["click_ids"] = clicks
    return sale


def checked_rows(
    path: Path, mapping: dict[str, str], source: str
) -> Iterator[tuple[int, dict[str, Any] | None, list[RowError]]]:
    """Each row's line, its sale as checked (None if malformed) and its errors, streamed."""
    for columns, rows in _reader(path):
        resolved = resolve(columns, mapping)
        for line, row in rows:
            if None in row:  # more cells than the header has columns
                yield line, None, [RowError(line, "row", "has more cells than the header")]
                continue
            sale, errors = check_sale(_sale(row, resolved), source)
            yield line, sale, [RowError(line, e.field or "row", e.message) for e in errors]


def check_file(path: Path, mapping: dict[str, str], source: str) -> Report:
    """Check every row, storing nothing: the columns, the mapping, the errors."""
    report = Report()
    try:
        _check(path, mapping, source, report)
    except UnreadableFile as exc:
        report.unreadable = RowError(exc.line, "file", exc.reason)
        report.errors.append(report.unreadable)
        report.errors_by_field["file"] += 1
    return report


def _check(path: Path, mapping: dict[str, str], source: str, report: Report) -> None:
    for columns, _ in _reader(path):
        report.columns = columns
        report.mapping = resolve(columns, mapping)
    missing = [
        f for f in ("order_id", "value", "currency", "time") if f not in report.mapping.values()
    ]
    for name in missing:
        report.errors.append(RowError(1, name, "no column is mapped to it (--map COLUMN=FIELD)"))
        report.errors_by_field[name] += 1
    if missing:
        return
    for _, _sale, errors in checked_rows(path, mapping, source):
        report.rows += 1
        if errors:
            report.bad_rows += 1
            for error in errors:
                report.errors_by_field[error.field] += 1
                if len(report.errors) < KEEP_ERRORS:
                    report.errors.append(error)


def import_file(
    runtime: Runtime,
    path: Path,
    mapping: dict[str, str],
    source: str,
    *,
    skip_bad_rows: bool = False,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
    skipped: Callable[[RowError], None] | None = None,
) -> Report:
    """Check the file; unless a row is bad (and not skipped) or it is a dry run, store it.

    A dry run says what storing would do (stored, updated, unchanged) without a write.
    """
    report = check_file(path, mapping, source)
    if report.unreadable or (report.bad_rows and not skip_bad_rows):
        return report
    if report.errors and not report.rows:
        return report
    batch: list[dict[str, Any]] = []
    done = 0
    for _, sale, errors in checked_rows(path, mapping, source):
        done += 1
        if errors or sale is None:
            for error in errors:
                if skipped is not None:
                    skipped(error)
            continue
        batch.append(sale)
        if len(batch) >= BATCH:
            _flush(runtime, batch, report, dry_run)
            if progress is not None:
                progress(done)
    _flush(runtime, batch, report, dry_run)
    if progress is not None:
        progress(done)
    report.imported = not dry_run
    return report


def _flush(runtime: Runtime, batch: list[dict[str, Any]], report: Report, dry_run: bool) -> None:
    if not batch:
        return
    if dry_run:
        report.outcomes.update(would_store(runtime, batch))
    else:
        report.outcomes.update(store_sales(runtime.sessions, batch, utcnow()))
    batch.clear()


def would_store(runtime: Runtime, batch: list[dict[str, Any]]) -> list[str]:
    """What storing the batch would do, read only (a later row of an order wins, as stored)."""
    ids = [deal_id(s["source"], s["order_id"]) for s in batch]
    with runtime.sessions() as session:
        stored = dict(
            session.execute(
                select(RevenueSale.id, RevenueSale.digest).where(RevenueSale.id.in_(ids))
            ).all()
        )
    outcomes = []
    for sale, sale_id in zip(batch, ids, strict=True):
        hashed = digest(sale)
        old = stored.get(sale_id)
        outcomes.append(STORED if old is None else UNCHANGED if old == hashed else UPDATED)
        stored[sale_id] = hashed
    return outcomes
