"""Environment and secret-file substitution over the raw YAML tree, before validation.

Done on the raw tree (not on models) so that every error can name the YAML key path the user
wrote, e.g. ``platforms.hubspot.access_token``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connector.errors import ConfigError

_ENV_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")
FILE_SUFFIX = "_file"


@dataclass
class Problems:
    """Errors found before validation, kept so that one run reports them all.

    ``dropped`` holds the key paths whose values could not be built (their key is left out of
    the tree), so that validation does not report them a second time as missing.
    """

    lines: list[str] = field(default_factory=list)
    dropped: set[str] = field(default_factory=set)

    def add(self, path: str, message: str) -> None:
        """Record ``path: message`` and that the key at ``path`` has no value."""
        self.lines.append(f"{path}: {message}")
        self.dropped.add(path)


_DROP = object()


def interpolate_env(
    tree: Any,
    env: Mapping[str, str] | None = None,
    path: str = "",
    problems: Problems | None = None,
) -> Any:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string of ``tree``.

    Every unset variable without a default is reported, not only the first: into
    ``problems`` when given (its key is then left out), else as one :class:`ConfigError`.

    Raises:
        ConfigError: without ``problems``, when any referenced variable is unset.
    """
    env = os.environ if env is None else env
    if problems is None:
        found = Problems()
        result = interpolate_env(tree, env, path, found)
        if found.lines:
            raise ConfigError("\n  ".join(found.lines))
        return result
    if isinstance(tree, dict):
        out = {k: interpolate_env(v, env, _join(path, str(k)), problems) for k, v in tree.items()}
        return {k: v for k, v in out.items() if v is not _DROP}
    if isinstance(tree, list):
        items = [interpolate_env(v, env, f"{path}[{i}]", problems) for i, v in enumerate(tree)]
        return [v for v in items if v is not _DROP]
    if not isinstance(tree, str):
        return tree

    unset: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        unset.append(name)
        return ""

    whole = _ENV_PATTERN.fullmatch(tree)
    result = _ENV_PATTERN.sub(substitute, tree)
    if unset:
        for name in unset:
            problems.add(
                path,
                f"environment variable {name} is not set (use ${{{name}:-default}} for a default)",
            )
        return _DROP
    # "${PORT}" alone may stand for a number or boolean: let YAML typing apply to it.
    if whole and result != "" and not whole.group(0).startswith("$${"):
        return _yaml_scalar(result)
    return result


def read_secret_files(
    tree: Any, secret_keys: set[str], path: str = "", problems: Problems | None = None
) -> Any:
    """Turn ``<secret>_file: /path`` into ``<secret>: <file contents>`` (Docker/K8s secrets).

    Only keys listed in ``secret_keys`` (bare names like ``access_token``) take a ``_file``
    variant; giving both the key and its ``_file`` variant is an error. Errors go to
    ``problems`` when given (all of them), else the first is raised.
    """
    if isinstance(tree, list):
        return [
            read_secret_files(v, secret_keys, f"{path}[{i}]", problems) for i, v in enumerate(tree)
        ]
    if not isinstance(tree, dict):
        return tree
    out: dict[str, Any] = {}
    for key, value in tree.items():
        key = str(key)
        key_path = _join(path, key)
        base = key[: -len(FILE_SUFFIX)] if key.endswith(FILE_SUFFIX) else None
        if base and base in secret_keys:
            try:
                if base in tree:
                    raise ConfigError(f"give either {base} or {key}, not both", path=key_path)
                out[base] = _read_file(value, key_path)
            except ConfigError as exc:
                if problems is None:
                    raise
                problems.add(key_path, str(exc).removeprefix(f"{key_path}: "))
                problems.dropped.add(_join(path, base))
        elif key in secret_keys and key + FILE_SUFFIX in tree and problems is not None:
            continue  # both given: reported at the _file key, neither is used
        else:
            out[key] = read_secret_files(value, secret_keys, key_path, problems)
    return out


def _read_file(value: Any, key_path: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError("must be a file path", path=key_path)
    try:
        return Path(value).expanduser().read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(
            f"cannot read secret file {value!r}: {exc.strerror}", path=key_path
        ) from exc


def _yaml_scalar(text: str) -> Any:
    import yaml

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, (int, float, bool)) else text


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
