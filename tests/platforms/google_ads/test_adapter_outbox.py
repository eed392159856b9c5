"""The Google Ads adapter inside the real delivery pass: outbox rows to the sandbox and back."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from connector.outbox.step import deliver_due
from connector.runtime import Runtime
from connector.storage.models import Conversion

from .conftest import EMAIL_HASH, NOW


def add_row(runtime: Runtime, key: str, identifiers: dict[str, Any]) -> None:
    """One pending Google Ads conversion row, due now."""
    with runtime.sessions.begin() as session:
        session.add(
            Conversion(
                deal_id=f"deal-{key}",
                destination="google_ads",
                kind="conversion",
                event_name="purchase",
                dedup_key=key,
                value=Decimal("250.00"),
                currency="EUR",
                event_time=NOW - timedelta(hours=1),
                identifiers=identifiers,
                next_attempt_at=NOW - timedelta(minutes=1),
            )
        )


def test_delivery_pass_records_each_outcome(sandbox, make_settings):
    """Sent, waiting for the 6 h click age, and consent-denied rows end as the outbox says."""
    settings = make_settings({"platforms": {"google_ads": sandbox.platform_config()}})
    runtime = Runtime.from_settings(settings)
    try:
        day_old = (NOW - timedelta(days=1)).isoformat()
        add_row(runtime, "sent", {"gclid": "g-sent", "click_time": day_old})
        add_row(runtime, "lead", {"email_sha256": [EMAIL_HASH]})
        fresh = NOW - timedelta(hours=2)
        add_row(runtime, "fresh", {"gclid": "g-fresh", "click_time": fresh.isoformat()})
        add_row(
            runtime,
            "denied",
            {"gclid": "g-denied", "click_time": day_old, "consent_ad_user_data": False},
        )
        summary = deliver_due(runtime, now=NOW)
        assert not summary.for_platform("google_ads").error
        with runtime.sessions() as session:
            rows = {r.dedup_key: r for r in session.scalars(select(Conversion))}
        assert rows["sent"].status == rows["lead"].status == "accepted"
        assert rows["sent"].platform_ref == sandbox.datamanager.accepted[0]["request_id"]
        assert rows["sent"].diagnostics["destinations"][0]["status"] == "SUCCESS"
        assert rows["fresh"].status == "pending"
        assert rows["fresh"].next_attempt_at == fresh + timedelta(hours=6)
        assert (rows["denied"].status, rows["denied"].reason_code) == ("skipped", "CONSENT_DENIED")
        assert sorted(a["transaction_id"] for a in sandbox.accepted) == ["lead", "sent"]
        assert sandbox.datamanager.calls["IngestEvents"] == 1
    finally:
        runtime.close()
