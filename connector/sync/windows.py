"""How old a conversion each destination still accepts, asked of the destination itself.

The rules live with each platform (``Destination.too_old``/``horizon``/``kinds``, see
``platforms/base.py`` and shared/platform-limits.md); this module only looks the destination
up in the registry and hands it its own settings section. The same limits apply to every run;
a backfill merely meets them more often. Planning a row a platform will refuse only fills
the outbox with dead letters, so such rows are not planned and the reason is reported instead.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

import platforms
from connector.config import Settings
from platforms.base import RESTATEMENT, RETRACTION, Destination


@cache
def destination_class(name: str) -> type[Destination[Any]] | None:
    """The registered destination class called ``name``, or None if there is none."""
    path = platforms.DESTINATIONS.get(name)
    return None if path is None else platforms.load(path)  # type: ignore[no-any-return]


def refusal(name: str) -> str | None:
    """Why nothing may be planned for ``name`` at all (unregistered or half-declared)."""
    cls = destination_class(name)
    if cls is None:
        return f"{name} is not a registered destination"
    if missing := cls.undeclared():
        return f"{name} is missing declarations: {', '.join(missing)}; nothing is planned for it"
    return None


def adjustable(name: str) -> bool:
    """Whether ``name`` takes restatements and retractions of what it was sent."""
    cls = destination_class(name)
    return cls is not None and {RESTATEMENT, RETRACTION} <= cls.kinds


def too_old(
    destination: str,
    kind: str,
    *,
    event_time: datetime,
    click_time: datetime | None,
    now: datetime,
    settings: Settings,
) -> str | None:
    """Why ``destination`` would refuse this row because of its age, or None if it fits."""
    if reason := refusal(destination):
        return reason
    cls = destination_class(destination)
    assert cls is not None  # refusal() said it is registered
    if kind not in cls.kinds:
        return f"{destination} does not take {kind}s"
    return cls.too_old(
        getattr(settings.platforms, destination),
        kind,
        event_time=event_time,
        click_time=click_time,
        now=now,
    )


def explain(settings: Settings, since: datetime, now: datetime) -> dict[str, str]:
    """Per enabled destination, in words, what a replay from ``since`` can still deliver."""
    out: dict[str, str] = {}
    for name in settings.platforms.enabled():
        cls = destination_class(name)
        if cls is None:
            continue  # not a destination (the CRM, say)
        reason = refusal(name)
        out[name] = reason or cls.horizon(getattr(settings.platforms, name), now)
    if since > now:
        out = {k: "nothing: --since is in the future" for k in out}
    return out
