"""The sync: pull changed deals from the CRM, match them to journeys, attribute, plan the outbox."""

from __future__ import annotations

from connector.sync.step import SyncStep

__all__ = ["SyncStep"]
