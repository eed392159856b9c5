"""``closedloop import revenue``: a file is checked whole, imported once, and sent like a deal."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import func, select

from connector.cli import cli
from connector.storage.models import RevenueSale, utcnow
from tests.revenue.conftest import journey


@pytest.fixture
def importer(tmp_path, db_url, revenue_config, revenue_runtime):
    """``importer(csv_text, *args)``: the CLI on the test database; (exit code, output)."""
    config = tmp_path / "closedloop.yaml"
    config.write_text(yaml.safe_dump({**revenue_config, "database": {"url": db_url}}))

    def run(text: str, *args: str) -> tuple[int, str]:
        path = tmp_path / "sales.csv"
        path.write_text(text)
        result = CliRunner().invoke(cli, ["-c", str(config), "import", "revenue", str(path), *args])
        return result.exit_code, result.output

    return run


def stored(runtime) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(RevenueSale))


YESTERDAY = (utcnow() - timedelta(days=1)).isoformat()
GOOD = (
    "Order,Amount,currency,time,email,gclid\n"
    f"A1,10.50,EUR,{YESTERDAY},ann@example.com,\n"
    f"A2,20,EUR,{YESTERDAY},bob@example.com,G-BOB\n"
)


def test_a_file_with_a_bad_row_imports_nothing(importer, revenue_runtime):
    """Two bad rows: each named by line and field, exit 1, nothing stored."""
    text = GOOD + f"A3,ten,EUR,{YESTERDAY},c@example.com,\nA4,5,EUR,not a time,,\n"
    code, output = importer(text, "--map", "Order=order_id", "--map", "Amount=value")
    assert code == 1, output
    assert "line 4: value: must be a number" in output
    assert "line 5: time: must be an ISO 8601 date-time" in output
    assert "nothing imported" in output and stored(revenue_runtime) == 0


def test_skip_bad_rows_imports_the_rest_and_lists_each_skipped_row(importer, revenue_runtime):
    """--skip-bad-rows stores the two good rows and lists the bad one with its reason."""
    text = GOOD + f"A3,ten,EUR,{YESTERDAY},c@example.com,\n"
    code, output = importer(
        text, "--map", "Order=order_id", "--map", "Amount=value", "--skip-bad-rows"
    )
    assert code == 0, output
    assert "skipped line 4: value: must be a number" in output
    assert "2 were stored" in output and stored(revenue_runtime) == 2


def test_a_reimport_is_a_no_op_and_a_dry_run_stores_nothing(importer, revenue_runtime):
    """A dry run counts 2 new and stores none; importing twice leaves 2 unchanged."""
    args = ("--map", "Order=order_id", "--map", "Amount=value", "--json")
    code, output = importer(GOOD, *args, "--dry-run")
    assert code == 0 and json.loads(output)["outcomes"]["stored"] == 2
    assert stored(revenue_runtime) == 0
    assert json.loads(importer(GOOD, *args)[1])["outcomes"]["stored"] == 2
    again = json.loads(importer(GOOD, *args)[1])
    assert again["outcomes"] == {"stored": 0, "updated": 0, "unchanged": 2}


def test_an_unmapped_required_field_is_named(importer):
    """Without a column for order_id and value, both are named and the exit is 2."""
    code, output = importer(GOOD)  # no column holds the order ID or the value
    assert code == 2
    assert "order_id: no column is mapped to it" in output
    assert "value: no column is mapped to it" in output


def test_a_bad_map_is_a_usage_error(importer):
    """--map to an unknown field is a usage error naming --map."""
    code, output = importer(GOOD, "--map", "Order=orderid")
    assert code == 2 and "--map" in output


def test_imported_sales_reach_google_once(importer, run, revenue_runtime, sandboxes):
    """Imported rows reach Google and Meta once; the same file again sends nothing more."""
    journey(revenue_runtime, "ann@example.com")
    args = ("--map", "Order=order_id", "--map", "Amount=value", "--source", "crm2")
    assert importer(GOOD, *args)[0] == 0
    run()
    keys = sorted(g["transaction_id"] for g in sandboxes["google_ads"].accepted)
    assert keys == ["cl-revenue_crm2_A1-closed_won", "cl-revenue_crm2_A2-closed_won"]
    importer(GOOD, *args)
    run()
    assert len(sandboxes["google_ads"].accepted) == 2
    assert len(sandboxes["meta"].accepted) == 2  # both buyers' hashed emails


def test_a_refund_row_retracts_at_google(importer, run, revenue_runtime, sandboxes):
    """A re-import with status refunded retracts the Google conversion; GA4/Meta get nothing."""
    journey(revenue_runtime, "ann@example.com")
    header = "order_id,value,currency,time,email,status\n"
    assert importer(header + f"R1,30,EUR,{YESTERDAY},ann@example.com,\n")[0] == 0
    run()
    assert importer(header + f"R1,30,EUR,{YESTERDAY},ann@example.com,refunded\n")[0] == 0
    assert run() == "succeeded", run.last
    (google,) = sandboxes["google_ads"].accepted
    assert google["transaction_id"] == "cl-revenue_import_R1-closed_won"
    assert google["retracted"] is True
    assert len(sandboxes["ga4"].accepted) == 1 and len(sandboxes["meta"].accepted) == 1


def test_a_file_that_is_not_utf8_is_a_usage_error_not_a_traceback(
    tmp_path, db_url, revenue_config, revenue_runtime
):
    """Latin-1 bytes: exit 2 naming the encoding, nothing imported (no traceback)."""
    config = tmp_path / "closedloop.yaml"
    config.write_text(yaml.safe_dump({**revenue_config, "database": {"url": db_url}}))
    path = tmp_path / "latin1.csv"
    path.write_bytes("order_id,value,currency,time\nA1,1,EUR,2026-11-01,café\n".encode("latin-1"))
    result = CliRunner().invoke(cli, ["-c", str(config), "import", "revenue", str(path)])
    assert result.exit_code == 2, result.output
    assert "not UTF-8 text" in result.output and "nothing imported" in result.output
    assert stored(revenue_runtime) == 0
