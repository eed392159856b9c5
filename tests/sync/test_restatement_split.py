"""A re-priced deal is restated per destination: each one received the whole deal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from connector.config import Settings
from connector.sync.deals import CheckedDeal
from connector.sync.plan import ExistingRow, PlanSettings, plan_restatements
from platforms.crm import CrmDeal

NOW = datetime(2026, 11, 20, tzinfo=UTC)


def row(destination: str, key: str, value: str) -> ExistingRow:
    return ExistingRow(
        destination=destination,
        kind="conversion",
        event_name="deal_won",
        dedup_key=key,
        adjusts_key=None,
        value=Decimal(value),
        currency="USD",
        event_time=NOW - timedelta(days=1),
        identifiers={},
        options={"rule": "won"},
    )


def test_new_amount_is_split_within_each_destination_not_across():
    deal = CheckedDeal(
        raw=CrmDeal(id="1", modified_time=NOW),
        is_won=True,
        amount=Decimal("200"),
        currency="USD",
        close_time=NOW - timedelta(days=1),
        problem=None,
    )
    existing = [
        row("google_ads", "g1", "60"),  # split 60/40 across two Google clicks
        row("google_ads", "g2", "40"),
        row("microsoft_ads", "m1", "100"),  # the whole deal on one Microsoft click
    ]
    cfg = PlanSettings(settings=Settings(), destinations=("google_ads", "microsoft_ads"), now=NOW)
    plan = plan_restatements(deal, "won", existing, cfg)
    restated = {r["adjusts_key"]: r["value"] for r in plan.rows}
    assert restated == {"g1": Decimal("120"), "g2": Decimal("80"), "m1": Decimal("200")}
