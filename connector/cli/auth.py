"""``closedloop auth <platform>``, found through the registry.

Each registered platform's ``auth`` (``platforms.auth.Auth``) brings its ``auth`` subcommand;
nothing here names one, so a new platform's command appears by being registered.
"""

from __future__ import annotations

import click

import platforms
from platforms import load


@click.group("auth")
def auth_group() -> None:
    """Create or check the credentials each platform needs (run before going live)."""


def _mount() -> list[click.Command]:
    seen: set[int] = set()
    for path in platforms.AUTH.values():
        command = load(path).command
        if command is not None and id(command) not in seen:
            seen.add(id(command))
            auth_group.add_command(command)
    return [auth_group]


#: What ``connector.cli`` registers.
COMMANDS = _mount()
