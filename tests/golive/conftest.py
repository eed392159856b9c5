"""Going-live commands run as the admin runs them: the real CLI process, against the sandboxes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a ``closedloop`` child process.

    ``BROWSER=true``: the "browser" the flow opens is a no-op, the test plays its part.
    ``OAUTHLIB_INSECURE_TRANSPORT``: the sandbox's token endpoint is plain HTTP on localhost
    (oauthlib refuses http:// otherwise; Google's is HTTPS).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEDLOOP_")}
    env.update({"PYTHONUNBUFFERED": "1", "BROWSER": "true", "OAUTHLIB_INSECURE_TRANSPORT": "1"})
    env.update(extra)
    return env


def closedloop(*args: str, **kwargs: object) -> subprocess.Popen[str]:
    """Start ``closedloop ARGS`` with pipes for stdin, stdout and stderr."""
    return subprocess.Popen(
        [sys.executable, "-m", "connector.cli", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
def write_config(tmp_path: Path):
    """Write a config file with the given ``platforms`` sections; returns its path."""

    def write(platforms: dict[str, object], **top: object) -> Path:
        path = tmp_path / "closedloop.yaml"
        path.write_text(yaml.safe_dump({**top, "platforms": platforms}), encoding="utf-8")
        return path

    return write
