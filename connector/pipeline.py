"""The steps of a run in order: retention, pull + plan, lifecycle, lead values, deliver, spend.

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
        if destinations and _lead_values_on(settings):
            from connector.leadvalue.step import LeadValueStep

            steps.append(LeadValueStep())
    if destinations:
        from connector.outbox.step import DeliverStep
        from connector.revenue.step import RevenueStep
        from connector.spend import SpendStep

        # Sales posted to /revenue take the sync's path to the destinations (no CRM needed).
        steps.append(RevenueStep())
        steps.append(DeliverStep())
        steps.append(SpendStep())
    return steps


def _lead_values_on(settings: Settings) -> bool:
    """The mapping profile's ``lead_values`` block turns the lead-value step on."""
    from connector.errors import ConfigError
    from connector.mapping import load_profile

    try:
        return load_profile(settings).lead_values.enabled
    except ConfigError:
        return False  # the runtime reports a bad profile with its key path
