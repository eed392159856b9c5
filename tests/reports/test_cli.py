"""``closedloop report ...`` prints the same numbers as the API, as a table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json

import pytest
import yaml
from click.testing import CliRunner
from reports_conftest import seed_small_world

from connector.cli import cli

NOV = ["--from", "2026-11-01", "--to", "2026-11-30"]


@pytest.fixture
def config(tmp_path, db_url, runtime):
    """A config file on the test database, seeded with the one-deal world."""
    seed_small_world(runtime.sessions)
    path = tmp_path / "closedloop.yaml"
    path.write_text(yaml.safe_dump({"database": {"url": db_url}, "currency": "USD"}))
    return str(path)


def run(config: str, *args: str):
    return CliRunner().invoke(cli, ["-c", config, "report", *args])


def test_sources_json(config):
    """--format json is the API's document: numbers, nulls for undefined KPIs."""
    result = run(config, "sources", *NOV, "--model", "first_click", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["model"] == "first_click"
    rows = {row["group"]: row for row in data["rows"]}
    assert rows["Paid Search"]["revenue"] == 1000 and rows["Paid Search"]["kpis"]["roi"] == 9.0
    assert rows["Direct"]["kpis"]["roi"] is None


def test_sources_csv(config):
    """--format csv has a header and one line per group plus the total, undefined as '—'."""
    result = run(config, "sources", *NOV, "--by", "campaign", "--format", "csv")
    assert result.exit_code == 0, result.output
    lines = list(csv.DictReader(io.StringIO(result.output)))
    by_group = {line["campaign"]: line for line in lines}
    assert set(by_group) == {"Brand", "(not set)", "Total"}
    assert by_group["Brand"]["revenue USD"] == "1,000.00"
    assert by_group["Brand"]["ROI"] == "900.0%"
    assert by_group["(not set)"]["ROI"] == "—"


def test_sources_table(config):
    """The table is aligned text with the KPI short names as headers."""
    result = run(config, "sources", *NOV)
    assert result.exit_code == 0, result.output
    header, rule, *body = result.output.splitlines()
    assert header.split()[:3] == ["channel", "visits", "leads"]
    assert set(rule) <= {"-", " "}
    assert any(line.startswith("Paid Search") and "1,000.00" in line for line in body)
    assert body[-1].startswith("Total")


@pytest.mark.parametrize("command", ["opportunities", "delivery", "models"])
@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_other_reports_run_in_every_format(config, command, fmt):
    """Opportunities, delivery and model comparison print in every format with exit code 0."""
    result = run(config, command, *NOV, "--format", fmt)
    assert result.exit_code == 0, result.output
    if fmt == "json":
        assert json.loads(result.output)["range"]["from"] == "2026-11-01"
    else:
        assert result.output.strip()


def test_delivery_table_names_dead_letters(config):
    """The delivery table lists per-platform statuses and the reasons below it."""
    result = run(config, "delivery", *NOV)
    assert result.exit_code == 0, result.output
    assert "meta dead x1 HTTP_503: Service unavailable" in result.output
    assert "won revenue 1,000.00 USD; matched to a journey: 100.0%" in result.output


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--from", "2026-02-30"], "--from"),
        (["--to", "soon"], "--to"),
        (["--from", "2026-11-10", "--to", "2026-11-01"], "--to"),
        (["--from", "2026-11-01", "--to", "9999-12-31"], "--to"),
        (["--from", "0001-01-01", "--to", "9999-12-30"], "--to"),
    ],
)
def test_bad_dates_exit_2(config, args, named):
    """Invalid dates or a reversed range are usage errors (exit code 2) naming the option."""
    result = run(config, "sources", *args)
    assert result.exit_code == 2
    assert named in result.output


def test_unknown_grouping_exits_2(config):
    """An unknown --by is refused by the option's choices."""
    assert run(config, "sources", "--by", "country").exit_code == 2
