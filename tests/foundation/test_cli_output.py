"""CLI output helpers: spreadsheet cells and terminal-safe text (OWASP CSV injection)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from connector.cli.output import csv_cell, render_table, terminal_safe, write_csv


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (Decimal("-12.50"), "-12.50"),  # a negative number stays a number
        (1234567, "1234567"),
        (None, ""),
        (date(2026, 11, 30), "2026-11-30"),
        (datetime(2026, 11, 30, 8, 5, tzinfo=UTC), "2026-11-30T08:05:00+00:00"),
        ("=1+2", "'=1+2"),
        ("+33 1 23", "'+33 1 23"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=cmd", "'\t=cmd"),
        ("\r=cmd", "'\r=cmd"),
        ("Brand", "Brand"),
    ],
)
def test_csv_cells(value, cell):
    """Numbers and dates are plain; text a spreadsheet would evaluate is prefixed with '."""
    assert csv_cell(value) == cell


def test_write_csv_marks_utf8_only_when_needed():
    """ASCII output has no BOM; any other character adds one; both parse back."""
    ascii_text = write_csv([{"campaign": "Brand", "revenue": Decimal("10.00")}])
    assert not ascii_text.startswith("\ufeff")
    utf8 = write_csv([{"campaign": "Été", "revenue": Decimal("10.00")}])
    assert utf8.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(utf8.removeprefix("\ufeff"))))
    assert rows == [{"campaign": "Été", "revenue": "10.00"}]


@pytest.mark.parametrize(
    "hostile",
    [
        "\x1b[31mred\x1b[0m",
        "\x1b]0;title\x07",
        "\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\",
        "a\x08\x08b\x7f\x9b",
        "\u202eevil",
    ],
)
def test_terminal_safe_removes_control_sequences(hostile):
    """Escape sequences, C0/C1 controls and bidi overrides never reach the terminal."""
    cleaned = terminal_safe(hostile)
    assert all(ch.isprintable() for ch in cleaned), repr(cleaned)
    table = render_table([{"name": hostile, "n": "1"}])
    assert all(ch.isprintable() or ch == "\n" for ch in table), repr(table)
