"""``closedloop dashboard hash-password``: make a ``dashboard.password_hash`` value."""

from __future__ import annotations

import click
from werkzeug.security import generate_password_hash


@click.group()
def dashboard() -> None:
    """Dashboard helpers."""


@dashboard.command("hash-password")
@click.password_option(help="The password (asked for if not given).")
def hash_password(password: str) -> None:
    """Print a salted hash for dashboard.password_hash (never store the password itself)."""
    click.echo(generate_password_hash(password))


COMMANDS = [dashboard]
