"""The default pipeline runs the revenue step before delivery, with or without a CRM."""

from __future__ import annotations

from connector.outbox import DeliverStep
from connector.pipeline import default_steps
from connector.revenue.step import RevenueStep
from connector.runs import RunService, get_run
from tests.revenue.conftest import journey, sale


def test_the_revenue_step_runs_before_delivery(revenue_runtime):
    kinds = [type(s) for s in default_steps(revenue_runtime.settings)]
    assert RevenueStep in kinds and DeliverStep in kinds
    assert kinds.index(RevenueStep) < kinds.index(DeliverStep)


def test_a_scheduled_run_sends_posted_sales(post, revenue_runtime, sandboxes):
    """The run the scheduler makes (every default step, no HubSpot) sends the posted sale."""
    journey(revenue_runtime, "ann@example.com")
    post(sale("7001", "75"))
    run_id, status = RunService(revenue_runtime).run_now("schedule")
    run = get_run(revenue_runtime, run_id)
    assert status == "succeeded", run.error
    assert run.summary["revenue"]["match"] == {"matched": 1}
    assert [g["transaction_id"] for g in sandboxes["google_ads"].accepted] == [
        "cl-revenue_webhook_7001-closed_won"
    ]
