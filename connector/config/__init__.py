"""Load ``closedloop.yaml``: interpolate env vars and secret files, validate, explain errors."""

from __future__ import annotations

import difflib
import os
import types
import typing
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml
from pydantic import BaseModel, SecretStr, ValidationError

from connector.config.interpolate import Problems, interpolate_env, read_secret_files
from connector.config.models import (
    AttributionSettings,
    DatabaseSettings,
    Settings,
)
from connector.errors import ConfigError

__all__ = [
    "DEFAULT_PATH",
    "AttributionSettings",
    "DatabaseSettings",
    "Settings",
    "config_path",
    "load_config",
    "parse_config",
    "redacted",
]

DEFAULT_PATH = "closedloop.yaml"
ENV_PATH = "CLOSEDLOOP_CONFIG"


def config_path(explicit: str | None = None) -> Path:
    """The file to read: ``-c PATH``, else ``$CLOSEDLOOP_CONFIG``, else ``./closedloop.yaml``."""
    return Path(explicit or os.environ.get(ENV_PATH) or DEFAULT_PATH)


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate a config file.

    A missing default file yields all defaults (SQLite, nothing enabled), so that ``closedloop
    db upgrade`` works out of the box; a missing explicit file is an error.
    """
    explicit = path is not None or bool(os.environ.get(ENV_PATH))
    file = config_path(str(path) if path is not None else None)
    if not file.exists():
        if explicit:
            raise ConfigError(f"config file {file} does not exist")
        return parse_config({}, env=env)
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML: {exc}") from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: the top level must be a mapping of sections")
    return parse_config(raw, env=env)


def parse_config(raw: Mapping[str, Any], env: Mapping[str, str] | None = None) -> Settings:
    """Validate an already-parsed YAML tree.

    Every problem is reported in one error, one line per key path: unset environment
    variables, unreadable secret files and invalid values alike, so that one run shows
    everything to fix.
    """
    problems = Problems()
    tree = interpolate_env(dict(raw), env, problems=problems)
    tree = read_secret_files(tree, _secret_field_names(Settings), problems=problems)
    lines = list(problems.lines)
    try:
        settings = Settings.model_validate(tree)
    except ValidationError as exc:
        lines += _explain(exc, problems.dropped)
    if lines:
        raise ConfigError(_summary(lines))
    return settings


def redacted(settings: Settings) -> dict[str, Any]:
    """The settings as plain data with every secret replaced by ``***``.

    The database URL keeps everything but its password, which is a secret like the others.
    """

    def walk(value: Any) -> Any:
        if isinstance(value, SecretStr):
            return "***" if value.get_secret_value() else ""
        if isinstance(value, DatabaseSettings):
            return {**walk_model(value), "url": _url_without_password(value.url)}
        if isinstance(value, BaseModel):
            return walk_model(value)
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, Decimal):
            return str(value)
        return value

    def walk_model(model: BaseModel) -> dict[str, Any]:
        return {k: walk(getattr(model, k)) for k in type(model).model_fields}

    return walk(settings)


def _url_without_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _database_password(url: str) -> str | None:
    from sqlalchemy.engine import make_url

    return make_url(url).password


def secret_values(settings: Settings) -> list[str]:
    """Every secret string in the settings, for the log redaction filter."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, SecretStr):
            if secret := value.get_secret_value():
                found.append(secret)
        elif isinstance(value, BaseModel):
            for key in type(value).model_fields:
                walk(getattr(value, key))
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    walk(settings)
    if password := _database_password(settings.database.url):
        found += [password, quote(password, safe="")]  # as given, and as written in the URL
    return found


def _secret_field_names(model: type[BaseModel]) -> set[str]:
    names: set[str] = set()
    for name, field in model.model_fields.items():
        for arg in _flatten(field.annotation):
            if arg is SecretStr:
                names.add(name)
            elif isinstance(arg, type) and issubclass(arg, BaseModel):
                names |= _secret_field_names(arg)
    return names


def _flatten(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, typing.Annotated):
        return [a for arg in typing.get_args(annotation) for a in _flatten(arg)]
    if origin in (dict, list):  # the sections of a mapping (``revenue.sources.<name>``)
        return [a for arg in typing.get_args(annotation)[-1:] for a in _flatten(arg)]
    return [annotation]


def _explain(exc: ValidationError, dropped: set[str]) -> list[str]:
    """One line per validation error, leaving out keys already reported as unbuildable.

    For a key that takes one of several forms (credentials: a path or a mapping), a form's
    "input should be a valid string" is left out when another form explains what is wrong.
    """
    lines = []
    errors = exc.errors()
    explained = {_key_path(e["loc"]) for e in errors if e["type"] not in _FORM_MISMATCH}
    for err in errors:
        loc = [str(p) for p in err["loc"] if not _is_union_tag(p)]
        if err["type"] in _FORM_MISMATCH and _key_path(err["loc"]) in explained:
            continue
        path = _key_path(err["loc"])
        if err["type"] == "extra_forbidden":
            hint = _suggest(loc)
            lines.append(f"{path}: unknown key{hint}")
        elif err["type"] == "missing":
            if path not in dropped:
                lines.append(f"{path}: required")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            if not _about_dropped(path, msg, dropped):
                lines.append(f"{path}: {msg}")
    return lines


#: Errors saying only that the value is not of one of a union's forms.
_FORM_MISMATCH = {"string_type", "model_type", "dict_type", "model_attributes_type"}


def _key_path(loc: tuple[int | str, ...]) -> str:
    """``server.allowed_origins[0]``: list positions in brackets, as in the YAML file's paths."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not _is_union_tag(part):
            path = f"{path}.{part}" if path else str(part)
    return path or "(top level)"


def _about_dropped(path: str, message: str, dropped: set[str]) -> bool:
    """Whether a section's error ("enabled but missing access_token") is about dropped keys."""
    prefix = "" if path == "(top level)" else path + "."
    return any(
        d.startswith(prefix) and "." not in d[len(prefix) :] and d[len(prefix) :] in message
        for d in dropped
    )


def _summary(lines: list[str]) -> str:
    unique = list(dict.fromkeys(lines))
    header = "invalid configuration" if len(unique) == 1 else f"{len(unique)} configuration errors"
    return header + ":\n  " + "\n  ".join(unique)


def _is_union_tag(part: Any) -> bool:
    # pydantic names union branches in error locations by type ('str', a model's class name
    # such as 'InlineGoogleCredentials', 'function-after[...]'); config keys are snake_case.
    text = str(part)
    return text == "str" or text[:1].isupper() or text.startswith("function-")


def _suggest(loc: list[str]) -> str:
    model: Any = Settings
    for part in loc[:-1]:
        field = model.model_fields.get(part) if isinstance(model, type) else None
        if field is None:
            return ""
        nested = [
            a
            for a in _flatten(field.annotation)
            if isinstance(a, type) and issubclass(a, BaseModel)
        ]
        if not nested:
            return ""
        model = nested[0]
    valid = list(model.model_fields) + [f.alias for f in model.model_fields.values() if f.alias]
    close = difflib.get_close_matches(loc[-1], valid, n=1, cutoff=0.6)
    prefix = ".".join(loc[:-1])
    if close:
        return f" (did you mean {prefix + '.' if prefix else ''}{close[0]}?)"
    return f" (valid keys here: {', '.join(sorted(valid))})"
