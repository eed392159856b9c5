"""``-c PATH`` works before or after the subcommand, as the README and contracts promise."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from connector.cli import cli

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.yaml"
EXAMPLE_ENV = {
    name: f"value-of-{name.lower()}"
    for name in (
        "GA4_API_SECRET",
        "HUBSPOT_ACCESS_TOKEN",
        "HUBSPOT_CLIENT_SECRET",
        "META_ACCESS_TOKEN",
        "GOOGLE_CLIENT_ID",
        "GOOGLE_CLIENT_SECRET",
        "GOOGLE_REFRESH_TOKEN",
        "GOOGLE_ADS_DEVELOPER_TOKEN",
        "CLOSEDLOOP_TRIGGER_TOKEN",
        "CLOSEDLOOP_SECRET_KEY",
    )
}


def _write(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize("where", ["before", "after"])
def test_config_check_takes_c_in_either_place(tmp_path: Path, where: str):
    """A typo'd key fails with exit 2 naming the path, wherever ``-c`` is given."""
    bad = _write(tmp_path / "bad.yaml", {"attribution": {"modle": "linear"}})
    args = ["-c", str(bad), "config", "check"]
    if where == "after":
        args = ["config", "check", "-c", str(bad)]
    result = CliRunner().invoke(cli, args, env={"CLOSEDLOOP_CONFIG": ""})
    assert result.exit_code == 2
    assert "attribution.modle" in result.output and "model" in result.output


def test_c_after_the_subcommand_wins(tmp_path: Path):
    """The path nearest the command is the one used (and the env var loses to both)."""
    good = _write(tmp_path / "good.yaml", {"database": {"url": f"sqlite:///{tmp_path}/x.db"}})
    bad = _write(tmp_path / "bad.yaml", {"nope": 1})
    result = CliRunner().invoke(
        cli,
        ["-c", str(bad), "config", "check", "-c", str(good)],
        env={"CLOSEDLOOP_CONFIG": str(bad)},
    )
    assert result.exit_code == 0, result.output
    assert "config ok" in result.output


def test_the_example_config_passes_with_its_env_vars_set(monkeypatch: pytest.MonkeyPatch):
    """``closedloop config check -c config.example.yaml`` passes once its variables exist."""
    for name, value in EXAMPLE_ENV.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli, ["config", "check", "-c", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "config ok" in result.output
    shown = {name for name, value in EXAMPLE_ENV.items() if value in result.output}
    assert shown == {"GOOGLE_CLIENT_ID"}  # the only one that is not a secret
