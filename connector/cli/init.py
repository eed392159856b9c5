"""``closedloop init``: write a short, commented config for the platforms chosen.

What each platform needs comes from its registry entry (``platforms.auth.Auth.asks``); every
other key of its settings model is written commented out with its default, so the file shows
the whole section without choosing for the admin (``config.example.yaml`` explains each key).
Secrets are never asked for: they become ``${ENV}`` references, or ``<key>_file`` paths with
``--secrets-dir``, so the file can be committed or shared.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
import yaml

import platforms
from connector.cli.common import EXIT_CONFIG
from platforms import load
from platforms.auth import Ask, Auth, config_file

HEADER = """\
# closedloop configuration, written by `closedloop init` for: {names}.
# Keys left out (or commented) have their defaults; config.example.yaml explains every key.
# Secrets are {secrets}: never write a token into this file.
# Next: {steps}
"""
SERVER_ASKS = (
    Ask(
        "trigger_token",
        "Bearer token for POST /trigger, /runs, /privacy/forget",
        secret=True,
        env="CLOSEDLOOP_TRIGGER_TOKEN",
    ),
    Ask(
        "public_url",
        "where /t.js is served from, e.g. https://track.example.com (empty: set later)",
        question="Public URL of this service",
        default="",
    ),
    Ask(
        "allowed_origins",
        "sites allowed to send tracking hits (CORS): origins, no path",
        question="Your site's origin(s), comma-separated (https://www.example.com)",
        default="",
    ),
)


def _auths() -> dict[str, Auth]:
    return {name: load(path) for name, path in platforms.AUTH.items()}


def _scalar(value: Any) -> str:
    """One YAML value on one line (strings double-quoted, so IDs stay strings)."""
    if isinstance(value, str):
        return json.dumps(value)
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


class _Writer:
    """Collects the answers and renders each section's lines."""

    def __init__(
        self, sets: Mapping[str, str], secrets_dir: Path | None, here: Path, ask: bool
    ) -> None:
        self.sets, self.secrets_dir, self.here, self.ask = sets, secrets_dir, here, ask

    def value(self, section: str, item: Ask) -> str:
        key = f"{section}.{item.key}"
        if key in self.sets:
            return self.sets[key]
        if self.ask and item.question:
            return str(click.prompt(item.question, default=item.default, show_default=True))
        if item.default is not None:
            return item.default
        raise click.UsageError(f"{key} has no default: answer it with --set {key}=VALUE")

    def lines(self, section: str, asks: tuple[Ask, ...], indent: str) -> tuple[list[str], set]:
        out: list[str] = []
        given: dict[str, str] = {}
        for item in asks:
            if item.only_if and not given.get(item.only_if):
                continue
            out.append(f"{indent}{self._line(section, item, given)}")
        return out, {item.key for item in asks}

    def _line(self, section: str, item: Ask, given: dict[str, str]) -> str:
        comment = f"  # {item.comment}"
        if item.secret:
            if self.secrets_dir is not None:
                file = self.secrets_dir / f"{section.replace('.', '_')}_{item.key}"
                hint = "# " if item.default is not None else ""  # optional: only if created
                return f"{hint}{item.key}_file: {file}{comment}"
            env = item.env or f"{section}_{item.key}".upper().replace(".", "_")
            ref = f"${{{env}:-}}" if item.default is not None else f"${{{env}}}"
            return f"{item.key}: {ref}{comment}"
        value = self.value(section, item)
        given[item.key] = value
        if item.path:
            path = Path(value).expanduser()
            return f"{item.key}: {_scalar(str(path if path.is_absolute() else self.here / path))}"
        if item.key == "allowed_origins":
            origins = [o.strip() for o in value.split(",") if o.strip()]
            return f"{item.key}: {_scalar(origins)}{comment}" if origins else f"# {item.key}: []"
        if value == "":
            return f"# {item.key}:{comment}"
        return f"{item.key}: {_scalar(value)}{comment}"


def _defaults(settings_path: str, written: set[str], indent: str) -> list[str]:
    """Every other key of the platform's settings model, commented out with its default."""
    model = load(settings_path)
    out = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        if name == "enabled" or name in written or key in written:
            continue
        default = info.get_default(call_default_factory=True)
        out.append(f"{indent}# {key}: {_scalar(default)}")
    return out


def render(
    names: list[str],
    sets: Mapping[str, str],
    secrets_dir: Path | None,
    here: Path,
    ask: bool,
) -> str:
    """The config file's text for the platforms ``names``."""
    auths = _auths()
    writer = _Writer(sets, secrets_dir, here, ask)
    commands = [
        f"closedloop auth {command.name}"
        for command in dict.fromkeys(
            auths[n].command for n in names if auths[n].command is not None
        )
    ]
    steps = ", ".join([*commands, "closedloop config check", "closedloop doctor"])
    secrets = f"files under {secrets_dir}" if secrets_dir else "${ENV} references"
    server, _ = writer.lines("server", SERVER_ASKS, "  ")
    text = [HEADER.format(names=", ".join(names), secrets=secrets, steps=steps)]
    text += ["database:", "  url: ${DATABASE_URL:-sqlite:///closedloop.db}", ""]
    text += ["server:", *server, "", "platforms:"]
    for name in names:
        lines, keys = writer.lines(name, auths[name].asks, "    ")
        extra = _extra_sets(name, sets, keys)
        text += [f"  {name}:", "    enabled: true", *lines]
        text += [f"    {key}: {_scalar(value)}" for key, value in extra.items()]
        text += _defaults(platforms.SETTINGS[name], keys | set(extra), "    ")
        text.append("")
    return "\n".join(text)


def _extra_sets(name: str, sets: Mapping[str, str], asked: set[str]) -> dict[str, str]:
    """``--set <name>.<key>=...`` for keys init does not ask about (a key of the model)."""
    model = load(platforms.SETTINGS[name])
    keys = {info.alias or field for field, info in model.model_fields.items()}
    extra = {}
    for full, value in sets.items():
        section, _, key = full.partition(".")
        if section != name or key in asked:
            continue
        if key not in keys:
            raise click.UsageError(f"--set {full}: platforms.{name} has no key {key!r}")
        extra[key] = value
    return extra


def _parse_sets(pairs: tuple[str, ...]) -> dict[str, str]:
    sets = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or "." not in key:
            raise click.BadParameter(f"{pair!r}: use SECTION.KEY=VALUE", param_hint="--set")
        sets[key.strip()] = value
    return sets


@click.command("init")
@click.option(
    "-p",
    "--platform",
    "chosen",
    multiple=True,
    help="A platform to connect (repeat); without it, init asks.",
)
@click.option("--set", "pairs", multiple=True, help="An answer: SECTION.KEY=VALUE (repeat).")
@click.option(
    "--secrets-dir",
    type=click.Path(file_okay=False),
    help="Reference secrets as <key>_file: DIR/<section>_<key> instead of ${ENV}.",
)
@click.option("--no-input", is_flag=True, help="Ask nothing: defaults and --set only.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Default: the -c path.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.pass_context
def init(
    ctx: click.Context,
    chosen: tuple[str, ...],
    pairs: tuple[str, ...],
    secrets_dir: str | None,
    no_input: bool,
    output: str | None,
    force: bool,
) -> None:
    """Write a commented config for the platforms you connect."""
    known = list(_auths())
    names = list(dict.fromkeys(chosen))
    if not names:
        if no_input:
            raise click.UsageError(f"choose platforms with --platform ({', '.join(known)})")
        answer = click.prompt(
            f"Platforms to connect, comma-separated ({', '.join(known)})", default=known[0]
        )
        names = [n.strip() for n in answer.split(",") if n.strip()]
    if unknown := [n for n in names if n not in known]:
        click.echo(f"unknown platform {', '.join(unknown)}: choose from {', '.join(known)}")
        raise SystemExit(EXIT_CONFIG)
    names = [n for n in known if n in names]  # registry order, as config sections are listed
    target = Path(output) if output else config_file(ctx)
    if target.exists() and not force:
        raise click.UsageError(f"{target} exists: pass --force to overwrite it")
    here = target.resolve().parent
    text = render(
        names,
        _parse_sets(pairs),
        Path(secrets_dir).resolve() if secrets_dir else None,
        here,
        not no_input,
    )
    target.write_text(text, encoding="utf-8")
    click.echo(f"wrote {target}")
    click.echo(text.splitlines()[3].removeprefix("# "))


COMMANDS = [init]
