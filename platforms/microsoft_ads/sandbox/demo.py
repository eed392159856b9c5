"""What ``closedloop demo`` seeds into the Microsoft Advertising sandbox: its clicks."""

from __future__ import annotations

from typing import Any

NAME = "microsoft_ads"
#: The demo account has enhanced conversions on, so deals without an msclkid still reach
#: Microsoft by the buyer's hashed email.
CONFIG = {"enhanced_conversions": True}


def seed(box: Any, world: Any) -> None:
    """Make the world's msclkid clicks known to Microsoft."""
    for click in world.clicks:
        if click.platform == NAME and click.kind == "msclkid":
            box.know_click(click.kind, click.value, click.ts)
