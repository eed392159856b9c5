"""``/api/reports/lead-values`` and ``closedloop report lead-values``: predicted vs realised.

Hand-computed world (USD): MQLs c1 (Oct 5, Paid Search / brand, sent at 1,800; its deal won
4,000 on Nov 1), c2 (Oct 20, brand, 1,800; no deal), c3 (Nov 3, generic, 1,000; a deal of 500
won on Nov 2, before it was an MQL, does not count; one of 700 won Nov 10 does), and a site
lead p9 (Nov 4, Organic Search, 300; planned before its person had a CRM contact, now c9: a
deal of 900 was lost, one of 150 won on Nov 14). Left out: an SQL nothing was sent for
and an MQL predicted in EUR.

- mql / Paid Search / 2026-10: 2 leads, 3,600 predicted, 4,000 realised, 4000/3600 = 1.11
- mql / Paid Search / 2026-11: 1 lead, 1,000, 700, 0.70
- lead / Organic Search / 2026-11: 1 lead, 300, 150, 150/300 = 0.50
- totals: lead 1 / 300 / 150 / 0.50; mql 3 / 4,600 / 4,700 / 4700/4600 = 1.02
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import yaml
from click.testing import CliRunner

from connector.cli import cli
from connector.storage.models import Deal, LeadPrediction, Person

RANGE = {"from": "2026-10-01", "to": "2026-11-30"}
AUTH = {"Authorization": "Bearer test-trigger-token"}


def at(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 12, tzinfo=UTC)


@pytest.fixture
def world(runtime):
    """The predictions and deals above."""
    predictions = [
        ("c1", "mql", "c1", at(10, 5), "Paid Search", "brand", "1800", "USD", 3),
        ("c2", "mql", "c2", at(10, 20), "Paid Search", "brand", "1800", "USD", 3),
        ("c3", "mql", "c3", at(11, 3), "Paid Search", "generic", "1000", "USD", 2),
        ("p9", "lead", None, at(11, 4), "Organic Search", "(not set)", "300", "USD", 1),
        ("c4", "sql", "c4", at(11, 5), "Paid Search", "brand", "3000", "USD", 0),
        ("c5", "mql", "c5", at(11, 6), "Paid Search", "brand", "900", "EUR", 2),
    ]
    deals = [
        ("d1", True, "4000", at(11, 1), ["c1"]),
        ("d3a", True, "500", at(11, 2), ["c3"]),
        ("d3b", True, "700", at(11, 10), ["c3"]),
        ("d9", False, "900", at(11, 12), ["c9"]),
        ("d9b", True, "150", at(11, 14), ["c9"]),
        ("d4", True, "9000", at(11, 20), ["c4"]),
        ("d5", True, "9000", at(11, 20), ["c5"]),
    ]
    with runtime.sessions.begin() as s:
        # p9 was planned before the write-back linked its person to CRM contact c9.
        person = Person(email_sha256="9" * 64, crm_contact_id="c9")
        s.add(person)
        s.flush()
        for key, stage, contact, entered, channel, campaign, value, currency, rows in predictions:
            s.add(
                LeadPrediction(
                    lead_key=key,
                    stage=stage,
                    contact_id=contact,
                    person_id=person.id if key == "p9" else None,
                    entered_at=entered,
                    channel=channel,
                    campaign=campaign,
                    value=Decimal(value),
                    currency=currency,
                    rows_planned=rows,
                )
            )
        for deal_id, won, amount, close, contacts in deals:
            s.add(
                Deal(
                    id=deal_id,
                    is_won=won,
                    is_closed=True,
                    amount=Decimal(amount),
                    currency="USD",
                    close_time=close,
                    contact_ids=contacts,
                    modified_time=close,
                )
            )
    return runtime


def test_api_sets_predicted_against_realised_by_month(client, world):
    """The rows and totals are the hand-computed ones above."""
    response = client.get("/api/reports/lead-values", query_string=RANGE, headers=AUTH)
    assert response.status_code == 200, response.json
    body = response.json
    assert body["currency"] == "USD" and body["by"] == "channel"
    rows = [
        (
            r["stage"],
            r["source"],
            r["month"],
            r["leads"],
            r["predicted"],
            r["realised"],
            r["calibration"],
        )
        for r in body["rows"]
    ]
    assert rows == [
        ("lead", "Organic Search", "2026-11", 1, 300, 150, 0.5),
        ("mql", "Paid Search", "2026-10", 2, 3600, 4000, 1.11),
        ("mql", "Paid Search", "2026-11", 1, 1000, 700, 0.7),
    ]
    totals = {t["stage"]: (t["leads"], t["predicted"], t["realised"]) for t in body["totals"]}
    assert totals == {"lead": (1, 300, 150), "mql": (3, 4600, 4700)}
    assert [t["calibration"] for t in body["totals"]] == [0.5, 1.02]


def test_api_groups_by_campaign(client, world):
    """by=campaign splits Paid Search into brand (October) and generic (November)."""
    body = client.get(
        "/api/reports/lead-values", query_string={**RANGE, "by": "campaign"}, headers=AUTH
    ).json
    assert [(r["source"], r["month"], r["leads"]) for r in body["rows"]] == [
        ("(not set)", "2026-11", 1),
        ("brand", "2026-10", 2),
        ("generic", "2026-11", 1),
    ]


def test_api_refuses_a_bad_grouping_naming_the_field(client, world):
    """An unknown ``by`` is a 400 JSON error that names ``by``."""
    response = client.get(
        "/api/reports/lead-values", query_string={**RANGE, "by": "keyword"}, headers=AUTH
    )
    assert response.status_code == 400
    assert response.json["detail"].startswith("by:")


def test_api_needs_a_token(client, world):
    """No token, no report."""
    assert client.get("/api/reports/lead-values", query_string=RANGE).status_code == 401


def test_openapi_lists_the_report(client):
    """The endpoint is in /openapi.json with its ``by`` choices."""
    spec = client.get("/openapi.json").json
    params = spec["paths"]["/api/reports/lead-values"]["get"]["parameters"]
    assert {
        "name": "by",
        "in": "query",
        "schema": {"type": "string", "enum": ["channel", "campaign"]},
    } in params


def _cli(tmp_path, db_url, *args):
    path = tmp_path / "closedloop.yaml"
    path.write_text(yaml.safe_dump({"database": {"url": db_url}, "currency": "USD"}))
    return CliRunner().invoke(
        cli,
        [
            "-c",
            str(path),
            "report",
            "lead-values",
            "--from",
            "2026-10-01",
            "--to",
            "2026-11-30",
            *args,
        ],
    )


def test_cli_json_matches_the_api(tmp_path, db_url, world, client):
    """``--format json`` prints what the API answers."""
    result = _cli(tmp_path, db_url, "--format", "json")
    assert result.exit_code == 0, result.output
    api = client.get("/api/reports/lead-values", query_string=RANGE, headers=AUTH).json
    assert json.loads(result.output) == api


def test_cli_csv_and_table(tmp_path, db_url, world):
    """CSV has one raw row per stage/source/month; the table shows the calibration."""
    sheet = list(csv.DictReader(io.StringIO(_cli(tmp_path, db_url, "--format", "csv").output)))
    assert [(r["stage"], r["month"], r["realised"], r["calibration"]) for r in sheet] == [
        ("lead", "2026-11", "150.00", "0.50"),
        ("mql", "2026-10", "4000.00", "1.11"),
        ("mql", "2026-11", "700.00", "0.70"),
    ]
    table = _cli(tmp_path, db_url).output
    assert "realised/predicted" in table and "1.11" in table and "4,000.00" in table


def test_cli_bad_date_exits_2(tmp_path, db_url, world):
    """A bad --to is a usage error."""
    assert _cli(tmp_path, db_url, "--to", "nope").exit_code == 2
