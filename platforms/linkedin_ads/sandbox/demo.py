"""What ``closedloop demo`` seeds into the LinkedIn sandbox: the clicks LinkedIn made."""

from __future__ import annotations

from typing import Any

NAME = "linkedin_ads"


def seed(box: Any, world: Any) -> None:
    """Make the world's li_fat_id clicks known (LinkedIn matches on them, never refuses)."""
    for click in world.clicks:
        if click.kind == "li_fat_id":
            box.know_click(click.kind, click.value, click.ts)
