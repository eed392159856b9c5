"""The steps of a run in order: IP retention, pull + plan, lifecycle, revenue, deliver, spend.

Imports are local so that a process that never syncs (a tracking-only web replica) never loads
the platform SDKs.
"""

from __future__ import annotations

from connector.config import Settings
from connector.runs import Step


def default_steps(settings: Settings) -> list[Step]:
    """The pipeline for these settings (steps with nothing to do are left out)."""
    from connector.tracking.retention import RetentionStep

    steps: list[Step] = [RetentionStep()]
    import platforms

    enabled = settings.platforms.enabled()
    destinations = [name for name in enabled if name not in platforms.CRM_SOURCES]
    if any(name in platforms.CRM_SOURCES for name in enabled):
        from connector.sync.lifecycle import LifecycleStep
        from connector.sync.step import SyncStep

        steps.append(SyncStep())
        steps.append(LifecycleStep())
    if destinations:
        from connector.outbox.step import DeliverStep
        from connector.revenue.step import RevenueStep
        from connector.spend import SpendStep

        # Sales posted to /revenue take the sync's path to the destinations (no CRM needed).
        steps.append(RevenueStep())
        steps.append(DeliverStep())
        steps.append(SpendStep())
    return steps
