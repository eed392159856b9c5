"""What ``closedloop sync --dry-run`` prints: per platform, what would be accepted or rejected, why.

The figures come from the run's stored summary (one entry per destination, see
``connector.outbox.summary``), so the text, ``--json`` and ``GET /runs/<id>`` tell one story.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connector.outbox.summary import ACCEPTED, LABELS, REJECTED

#: How each label reads in a dry run, where nothing was sent.
WORDS = {
    ACCEPTED: "would be accepted",
    "confirming": "would await the platform's verdict",
    "skipped": "skipped before sending",
    REJECTED: "would be rejected",
    "retrying": "could not be checked now (would retry)",
    "dead": "would be dead-lettered",
    "waiting": "not due yet",
    "not_validated": "not validated",
}


def platform_figures(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The per-destination entries of a run summary (those carrying delivery figures)."""
    return {
        name: figures
        for name, figures in summary.items()
        if isinstance(figures, dict) and figures.get("dry_run") is True and ACCEPTED in figures
    }


def rejections(summary: dict[str, Any]) -> int:
    """Conversions a platform said it would reject, or a platform stopped (exit code 1)."""
    figures = platform_figures(summary).values()
    return sum(int(f.get(REJECTED) or 0) + (1 if f.get("error") else 0) for f in figures)


def report_lines(summary: dict[str, Any]) -> Iterator[str]:
    """Indented lines: one per platform with its non-zero counts, then each reason and message."""
    figures = platform_figures(summary)
    if not figures:
        yield "  no destination validated anything"
    for name, f in figures.items():
        counts = [f"{f[label]} {WORDS[label]}" for label in LABELS if f.get(label)]
        idle = "not checked" if f.get("error") else "nothing due"
        yield f"  {name}: {', '.join(counts) or idle}"
        if f.get("error"):
            yield f"    stopped: {f['error']}"
        examples = f.get("examples") or {}
        for label, codes in (f.get("reasons") or {}).items():
            for code, count in codes.items():
                messages = examples.get(label, {}).get(code) or []
                why = f": {messages[0]}" if messages else ""
                yield f"    {WORDS.get(label, label)} {code} x{count}{why}"
                for more in messages[1:]:
                    yield f"      also: {more}"
