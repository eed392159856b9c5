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
    """--format csv has a header and one line per group plus the total, undefined empty."""
    result = run(config, "sources", *NOV, "--by", "campaign", "--format", "csv")
    assert result.exit_code == 0, result.output
    lines = list(csv.DictReader(io.StringIO(result.output)))
    by_group = {line["campaign"]: line for line in lines}
    assert set(by_group) == {"Brand", "(not set)", "Total"}
    assert by_group["Brand"]["revenue"] == "1000.00"
    assert by_group["Brand"]["currency"] == "USD"
    assert by_group["Brand"]["roi"] == "9.0000"
    assert by_group["(not set)"]["roi"] == ""


@pytest.mark.parametrize("command", ["sources", "opportunities", "delivery", "models"])
def test_csv_is_for_spreadsheets(config, command):
    """CSV cells are plain numbers (no separators, %, or dashes) under ASCII headers."""
    result = run(config, command, *NOV, "--format", "csv")
    assert result.exit_code == 0, result.output
    assert result.output.isascii()  # ASCII throughout: no byte-order mark needed
    rows = list(csv.reader(io.StringIO(result.output)))
    cells = [cell for row in rows[1:] for cell in row[1:] if cell != "USD"]
    assert cells
    for cell in cells:
        assert cell == "" or float(cell) == float(cell), cell  # every value parses as a number
        assert "," not in cell and "%" not in cell and "—" not in cell


@pytest.fixture
def hostile_config(tmp_path, db_url, runtime):
    """The one-deal world whose campaign name a visitor chose: a formula with escapes."""
    seed_small_world(runtime.sessions, campaign=HOSTILE)
    path = tmp_path / "closedloop.yaml"
    path.write_text(yaml.safe_dump({"database": {"url": db_url}, "currency": "USD"}))
    return str(path)


HOSTILE = '=HYPERLINK("https://evil.example","Été")\x1b[2J\x1b]0;owned\x07\u202e'


def test_csv_defuses_formulas_and_marks_utf8(hostile_config):
    """A visitor's ``=HYPERLINK(...)`` campaign is text in a spreadsheet; UTF-8 gets a BOM."""
    result = run(hostile_config, "sources", *NOV, "--by", "campaign", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(result.output.removeprefix("\ufeff"))))
    campaigns = [row["campaign"] for row in rows]
    assert any(c.startswith('\'=HYPERLINK("https://evil.example","Été")') for c in campaigns)
    assert not any(c.startswith(("=", "+", "-", "@")) for c in campaigns)


def test_table_strips_terminal_escapes(hostile_config):
    """The human table shows the name without escape sequences or control characters."""
    result = run(hostile_config, "sources", *NOV, "--by", "campaign")
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "\u202e" not in result.output
    assert '=HYPERLINK("https://evil.example","Été")' in result.output


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
