"""One colour per channel in every chart: a fixed map on GA4's default channel names.

Fixed, not assigned in order of appearance, so Paid Search is the same blue in the revenue
chart, the funnel and the timeline, and on every range. Names outside the map (a source,
campaign or keyword at a drilled level) get a colour from a stable hash of the name.
"""

from __future__ import annotations

import zlib

#: GA4's default channel group names (``connector.tracking.channels.CHANNELS``), plus
#: ``Unassigned`` and the reports' ``(no journey)`` row.
CHANNEL_COLOURS: dict[str, str] = {
    "Direct": "#64748b",
    "Cross-network": "#0d9488",
    "Paid Shopping": "#c026d3",
    "Paid Search": "#2563eb",
    "Paid Social": "#db2777",
    "Paid Video": "#dc2626",
    "Display": "#ea580c",
    "Paid Other": "#a16207",
    "Organic Shopping": "#9333ea",
    "Organic Social": "#f472b6",
    "Organic Video": "#f87171",
    "Organic Search": "#16a34a",
    "Referral": "#0891b2",
    "Email": "#ca8a04",
    "Affiliates": "#4f46e5",
    "Audio": "#7c3aed",
    "SMS": "#65a30d",
    "Mobile Push Notifications": "#0284c7",
    "Unassigned": "#94a3b8",
    "(no journey)": "#cbd5e1",
}
#: For names that are not channels: distinct from each other, readable on white.
_PALETTE = (
    "#1d4ed8",
    "#b91c1c",
    "#047857",
    "#7e22ce",
    "#c2410c",
    "#0e7490",
    "#a21caf",
    "#4d7c0f",
    "#b45309",
    "#be123c",
)


def colour(name: str) -> str:
    """The colour of a channel (fixed), or of any other group name (stable hash)."""
    fixed = CHANNEL_COLOURS.get(name)
    if fixed:
        return fixed
    return _PALETTE[zlib.crc32(name.encode()) % len(_PALETTE)]


def colours(names: list[str]) -> dict[str, str]:
    """``{name: colour}`` for the chart data (the browser looks colours up, never picks)."""
    return {name: colour(name) for name in names}
