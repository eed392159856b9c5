"""``closedloop auth <platform>`` and the platforms' own commands, found through the registry.

Each registered platform's ``auth`` (``platforms.auth.Auth``) brings its ``auth`` subcommand and
its ``commands`` a group of its own (``closedloop meta pixels``); nothing here names one, so a
new platform's commands appear by being registered.
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
    return [auth_group, *(load(path) for path in platforms.COMMANDS.values())]


#: What ``connector.cli`` registers: the ``auth`` group and every platform's own group.
COMMANDS = _mount()
