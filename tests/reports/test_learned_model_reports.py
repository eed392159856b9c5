"""``model=markov|shapley`` in the source report's API, CLI and dashboard: the stored credit.

World (November 2026): one 1,000 USD deal won on 10 November through Paid Search (2 Nov) then
Email (4 Nov), stored as the sync writes it, with the learned credit the sync gave it: Markov
250 / 750, Shapley 400 / 600 (weights 0.25 / 0.75 and 0.4 / 0.6). Last click gives Email 1,000.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from click.testing import CliRunner
from reports_conftest import PASSWORD, USERNAME, attributions, nov

from connector.cli import cli
from connector.storage.models import Deal, Touchpoint, Visitor

NOV = {"from": "2026-11-01", "to": "2026-11-30"}
LEARNED = {
    "markov": ((Decimal("0.25"), Decimal("250")), (Decimal("0.75"), Decimal("750"))),
    "shapley": ((Decimal("0.4"), Decimal("400")), (Decimal("0.6"), Decimal("600"))),
}


def seed(sessions) -> None:
    """The module's deal, its two touches and their stored credit."""
    with sessions.begin() as s:
        s.add(Visitor(id="va"))
        s.flush()
        for tp_id, day, channel in ((1, 2, "Paid Search"), (2, 4, "Email")):
            s.add(
                Touchpoint(
                    id=tp_id,
                    visitor_id="va",
                    occurred_at=nov(day),
                    url="https://shop.example/",
                    channel=channel,
                    is_new_session=True,
                )
            )
        s.add(
            Deal(
                id="A",
                amount=Decimal("1000"),
                currency="USD",
                created_time=nov(1),
                close_time=nov(10),
                is_won=True,
                is_closed=True,
                contact_ids=[],
                pipeline="default",
                stage="closedwon",
                match_status="matched",
            )
        )
        s.flush()
        rows = attributions("A", "1000", "USD", nov(10), [(1, nov(2)), (2, nov(4))])
        for i, row in enumerate(rows):
            for model, credit in LEARNED.items():
                setattr(row, f"{model}_weight", credit[i][0])
                setattr(row, f"{model}_revenue", credit[i][1])
        s.add_all(rows)


@pytest.fixture
def app(report_app):
    """The report app over the module's world."""
    seed(report_app.extensions["closedloop"].sessions)
    return report_app


def _revenue(document: dict) -> dict[str, Decimal]:
    return {r["group"]: Decimal(str(r["revenue"])) for r in document["rows"]}


@pytest.mark.parametrize(
    ("model", "paid", "email"),
    [("markov", "250", "750"), ("shapley", "400", "600"), ("last_click", "0", "1000")],
)
def test_api_source_report_by_a_learned_model(app, model, paid, email):
    """GET /api/reports/sources?model=markov sums the stored Markov revenue per channel."""
    from reports_conftest import DASHBOARD_TOKEN

    response = app.test_client().get(
        "/api/reports/sources",
        query_string={**NOV, "model": model},
        headers={"Authorization": f"Bearer {DASHBOARD_TOKEN}"},
    )
    assert response.status_code == 200, response.json
    assert response.json["model"] == model
    revenue = _revenue(response.json)
    assert revenue.get("Paid Search", Decimal(0)) == Decimal(paid)
    assert revenue["Email"] == Decimal(email)


def test_cli_source_report_by_shapley(app, tmp_path, db_url):
    """``closedloop report sources --model shapley`` gives the stored Shapley split."""
    import yaml

    path = tmp_path / "closedloop.yaml"
    path.write_text(yaml.safe_dump({"database": {"url": db_url}, "currency": "USD"}))
    window = ["--from", NOV["from"], "--to", NOV["to"]]
    args = ["-c", str(path), "report", "sources", *window, "--model", "shapley", "--format", "json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    revenue = _revenue(json.loads(result.output))
    assert revenue == {"Paid Search": Decimal("400"), "Email": Decimal("600")}


def test_dashboard_offers_and_shows_the_learned_models(app):
    """The dashboard's model select lists markov and shapley; ?model=markov shows its split."""
    client = app.test_client()
    form = client.get("/dashboard/").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    login = {"csrf": csrf, "username": USERNAME, "password": PASSWORD}
    assert client.post("/dashboard/login", data=login).status_code == 302
    page = client.get("/dashboard/", query_string={**NOV, "model": "markov"}).get_data(as_text=True)
    assert '<option value="markov" selected' in page
    assert '<option value="shapley"' in page
    sources = page.split('id="sources"', 1)[1].split("</table>", 1)[0]
    assert "750" in sources and "250" in sources
