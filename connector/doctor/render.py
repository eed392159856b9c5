"""The doctor's report as a table for people (check, ✓/✗, what to do) or as JSON."""

from __future__ import annotations

import json

from connector.cli.output import terminal_safe
from connector.doctor import DoctorReport

MARKS = {"ok": "✓", "fail": "✗", "note": "·"}
HEADERS = ("check", "", "found", "what to do")


def as_table(report: DoctorReport) -> str:
    """Left-aligned columns; the last says what to do (empty when nothing is to do)."""
    rows = [
        [
            terminal_safe(f"{c.platform}: {c.name}"),
            MARKS[c.status],
            terminal_safe(c.detail),
            terminal_safe(c.fix),
        ]
        for c in report.checks
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADERS)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(HEADERS, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    failed = sum(c.status == "fail" for c in report.checks)
    lines.append("")
    lines.append("all checks passed" if not failed else f"{failed} check(s) failed")
    return "\n".join(lines)


def as_json(report: DoctorReport) -> str:
    """The report as indented JSON."""
    return json.dumps(report.as_dict(), indent=2, ensure_ascii=False)
