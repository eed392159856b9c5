"""The outbox: claim due conversions, send them through the adapters, record every outcome.

``deliver_due`` is the entry point for a scheduler job; ``DeliverStep`` runs the same work as
a step of a sync run.
"""

from connector.outbox.step import DeliverStep, deliver_due, delivery_job
from connector.outbox.summary import DeliverySummary, PlatformSummary

__all__ = ["DeliverStep", "DeliverySummary", "PlatformSummary", "deliver_due", "delivery_job"]
