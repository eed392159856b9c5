"""What a platform declares for going live: its ``closedloop auth`` command and its init questions.

A registry entry's ``auth`` (``platforms/__init__.py``) names an :class:`Auth`. The CLI mounts
every distinct ``Auth.command`` under ``closedloop auth`` and ``closedloop init`` asks each
chosen platform's :attr:`Auth.asks`, so neither names a platform. Also here: the helpers the
platforms' commands share (secret files written 0600, the config read before it validates).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import yaml


@dataclass(frozen=True)
class Ask:
    """One key ``closedloop init`` writes into a platform's section.

    ``secret`` keys are never asked for: they are written as ``${env}`` (or as ``<key>_file``
    under ``--secrets-dir``), so no secret lands in the YAML. ``path`` values are file names
    placed next to the config file. Without a ``default`` the admin must answer. ``only_if``
    names an earlier key of the section that must be non-empty for this one to be written.
    """

    key: str
    comment: str
    question: str | None = None
    default: str | None = None
    secret: bool = False
    env: str | None = None
    path: bool = False
    only_if: str | None = None


@dataclass(frozen=True)
class Auth:
    """A platform's going-live declarations."""

    #: Mounted as ``closedloop auth <command.name>``; platforms that share one credential
    #: (Google Ads and GA4) name the same command object and it is mounted once.
    command: click.Command | None = None
    #: The keys ``closedloop init`` writes for it, in order (``enabled: true`` comes first).
    asks: tuple[Ask, ...] = ()


def write_secret(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` readable by its owner only (0600), atomically.

    The temporary file is created 0600 before anything is written into it, so the secret is
    never readable by others, not even for a moment; ``os.replace`` swaps it in whole.
    """
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def config_file(ctx: click.Context) -> Path:
    """The config file this invocation names (``-c``, ``$CLOSEDLOOP_CONFIG``, default)."""
    from connector.config import config_path

    return config_path(getattr(ctx.find_root().obj, "config_path", None))


def raw_platform_sections(path: Path) -> dict[str, dict[str, Any]]:
    """The ``platforms`` sections as written, ``${VAR}`` and ``_file`` filled in, not validated.

    ``auth`` runs before the config is complete (Google's ``credentials`` file does not exist
    until ``auth google`` writes it), so it reads what it needs without full validation.
    """
    from connector.config import Settings, _secret_field_names
    from connector.config.interpolate import Problems, interpolate_env, read_secret_files

    if not path.exists():
        return {}
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise click.ClickException(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, Mapping):
        return {}
    problems = Problems()  # unset variables and unreadable files are left out, not errors
    tree = interpolate_env(dict(raw), problems=problems)
    tree = read_secret_files(tree, _secret_field_names(Settings), problems=problems)
    sections = tree.get("platforms") or {}
    return {k: v for k, v in sections.items() if isinstance(v, dict)}


def store_token(platform: str, token: str, output: str | None, env: str) -> None:
    """Write a checked token to ``output`` (0600) or say which env var the config reads.

    Prints the config line either way; the token itself is never printed.
    """
    if output:
        written = write_secret(output, token + "\n")
        click.echo(f"wrote {written} (mode 0600); in the config:")
        click.echo(f"  platforms.{platform}.access_token_file: {written}")
    else:
        click.echo(f"Set {env} in the service's environment (not in the YAML); in the config:")
        click.echo(f"  platforms.{platform}.access_token: ${{{env}}}")
