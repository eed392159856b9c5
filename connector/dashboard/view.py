"""What the dashboard was asked to show, read from the URL, and the links that change it.

Every panel reads one :class:`View`, so the range, the comparison, the drill filter and the
model mean the same thing in each table, chart and CSV export. Links (drill-down rows,
breadcrumbs, CSV) are built from the view, so they keep every other choice as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from urllib.parse import urlencode

from connector.dashboard.presets import PRESETS, matching_preset, preset_range, previous_range
from connector.reports import (
    DIMENSIONS,
    MODELS,
    RangeError,
    ReportRange,
    default_range,
    parse_range,
)
from connector.reports.drill import LEVELS, next_level

#: Query parameters of the drill filter are the dimensions: ``channel=Paid Search`` and so on
#: (the same as the report API's), so a drilled view's URL reads as what it shows.
FILTER_PREFIX = ""
LEVEL_LABELS = {
    "channel": "Channel",
    "source_medium": "Source / medium",
    "campaign": "Campaign",
    "keyword": "Keyword",
    "ad": "Ad",
}


@dataclass(frozen=True)
class View:
    """The dashboard's state: range, comparison, grouping, drill filter, model and the rest."""

    rng: ReportRange
    preset: str
    compare: bool
    by: str
    where: dict[str, str] = field(default_factory=dict)
    model: str = "last_click"
    touch: str = "first"
    #: The funnel's mode (period or cohort) and the paths' target (won deal or lead).
    funnel: str = "period"
    target: str = "deal"
    notice: str | None = None

    @property
    def previous(self) -> ReportRange:
        """The comparison period: as many days, just before."""
        return previous_range(self.rng)

    def query(self, **changes: object) -> str:
        """The query string of this view with ``changes`` applied (dates kept as chosen)."""
        view = replace(self, **changes) if changes else self
        params: dict[str, str] = {}
        if view.preset == "custom":
            params |= {"from": view.rng.start.isoformat(), "to": view.rng.end.isoformat()}
        params["preset"] = view.preset
        if view.compare:
            params["compare"] = "previous"
        params |= {"by": view.by, "model": view.model, "touch": view.touch}
        if view.funnel != "period":
            params["funnel"] = view.funnel
        if view.target != "deal":
            params["target"] = view.target
        params |= {FILTER_PREFIX + key: value for key, value in view.where.items()}
        return "?" + urlencode(params)

    def drill(self, group: str) -> str | None:
        """The link one level down, filtered to ``group``; None at the last level."""
        deeper = next_level(self.by) if self.by in LEVELS else None
        if deeper is None or group == "(no journey)":
            return None
        return self.query(by=deeper, where={**self.where, self.by: group})

    def breadcrumbs(self) -> list[tuple[str, str | None]]:
        """``[(label, link or None for the current level)]``: all channels, then each filter."""
        crumbs: list[tuple[str, str | None]] = []
        kept: dict[str, str] = {}
        top = LEVELS[0]
        crumbs.append(("All channels", self.query(by=top, where={}) if self.where else None))
        for key, value in self.where.items():
            kept = {**kept, key: value}
            level = next_level(key) or key
            current = kept == self.where
            crumbs.append((value, None if current else self.query(by=level, where=dict(kept))))
        return crumbs


def read_view(args: Mapping[str, str], today: date, *, model: str) -> View:
    """The view a request asks for; a bad range falls back to 30 days with a notice."""
    preset = args.get("preset") or ("custom" if args.get("from") or args.get("to") else "30d")
    preset = preset if preset in PRESETS else "30d"
    notice = None
    rng = preset_range(preset, today)
    if rng is None:
        try:
            rng = parse_range(args.get("from") or None, args.get("to") or None, today=today)
        except RangeError as exc:
            rng, notice = default_range(today), f"{exc}; showing the last 30 days instead."
        preset = matching_preset(rng, today)
    by = args.get("by") if args.get("by") in DIMENSIONS else "channel"
    where = {}
    for key in DIMENSIONS:
        value = args.get(FILTER_PREFIX + key)
        if value and key != by and not {"\x1f", "\x00"} & set(value):
            where[key] = value  # a name with a control character in it names no group
    chosen = args.get("model")
    compare = args.get("compare") == "previous"
    if compare:
        try:
            previous_range(rng)
        except RangeError as exc:
            compare, notice = False, f"{exc}; showing no comparison."
    return View(
        rng=rng,
        preset=preset,
        compare=compare,
        by=by,
        where=where,
        model=chosen if chosen in MODELS else model,
        touch="last" if args.get("touch") == "last" else "first",
        funnel="cohort" if args.get("funnel") == "cohort" else "period",
        target="lead" if args.get("target") == "lead" else "deal",
        notice=notice,
    )
