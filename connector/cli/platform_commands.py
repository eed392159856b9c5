"""Commands a platform brings itself (``Platform.commands``): its own listings and helpers.

The registry names them; nothing here names a platform.
"""

from __future__ import annotations

import click

import platforms


def _commands() -> list[click.Command]:
    found: list[click.Command] = []
    for path in platforms.COMMANDS.values():
        found.extend(platforms.load(path))
    return found


COMMANDS = _commands()
