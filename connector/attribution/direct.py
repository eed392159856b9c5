"""GA4's "last non-direct click": Direct visits take credit only when nothing else could.

A Direct visit (typed URL, bookmark, no referrer) is usually a buyer coming back to a site
they already know; crediting it would erase the campaign that brought them in the first place.
GA4 therefore ignores Direct in a conversion path unless the whole path is Direct, and so do
we when ``attribution.ignore_direct`` is on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

#: GA4's default channel group for visits without source, medium or referrer; the tracking
#: classifier gives it exactly to ``(direct) / (none)`` visits.
DIRECT_CHANNEL = "Direct"

T = TypeVar("T")


def is_direct(channel: str | None) -> bool:
    """Whether a touch is Direct; a touch without a channel is too (reports show it so)."""
    return not channel or channel == DIRECT_CHANNEL


def credited(
    touches: Sequence[T], direct: Callable[[T], bool], *, ignore_direct: bool = True
) -> list[T]:
    """The touches that may take credit, in their order.

    With ``ignore_direct``, Direct touches are dropped as long as one other touch remains; a
    journey of Direct touches only keeps them all, so the revenue is never left unassigned.
    """
    if not ignore_direct:
        return list(touches)
    others = [t for t in touches if not direct(t)]
    return others or list(touches)
