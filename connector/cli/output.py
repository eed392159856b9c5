"""What the CLI writes: aligned tables for people, CSV for spreadsheets, both safe to open.

Report cells carry names visitors and CRMs chose (UTM campaigns, stage labels, platform
error texts), so a table strips terminal control sequences, and a CSV neutralises cells a
spreadsheet would run as a formula (OWASP's CSV-injection guidance: a leading ``'``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

#: ANSI escape sequences (CSI, OSC, and two-byte ones), then any other control character
#: (C0, DEL, C1) and the Unicode bidirectional overrides that reorder what a terminal shows.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
#: Characters that make a spreadsheet read a cell as a formula (OWASP), tab and CR included.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


def terminal_safe(text: Any) -> str:
    """``text`` with escape sequences and control characters removed (newlines become spaces)."""
    value = _ANSI.sub("", str(text))
    return _CONTROL.sub(lambda m: " " if m.group(0) in "\n\r\t" else "", value)


def render_table(table: Sequence[Mapping[str, Any]]) -> str:
    """A plain aligned text table; the first column left-aligned, the rest right-aligned."""
    if not table:
        return "(no data in this range)"
    headers = list(table[0])
    rows = [[terminal_safe(row.get(h, "")) for h in headers] for row in table]
    names = [terminal_safe(h) for h in headers]
    widths = [max(len(names[i]), *(len(r[i]) for r in rows)) for i in range(len(headers))]
    lines = ["  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        cells = [
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells))
    return "\n".join(lines)


def csv_cell(value: Any) -> str:
    """One spreadsheet cell: plain numbers, ISO dates, empty for undefined, text defused."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def write_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """CSV text of ``rows`` (header from the first row's keys).

    ASCII stays plain; any other character makes it UTF-8 with a byte-order mark, which is
    how spreadsheet programs recognise UTF-8 instead of guessing a legacy code page.
    """
    if not rows:
        return ""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    headers = list(rows[0])
    writer.writerow([csv_cell(h) for h in headers])
    for row in rows:
        writer.writerow([csv_cell(row.get(h)) for h in headers])
    text = buffer.getvalue()
    return text if text.isascii() else BOM + text
