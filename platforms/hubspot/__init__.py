"""HubSpot CRM: the deal source, contact write-back, and a local emulator for tests and demo."""

from platforms.hubspot.source import HubSpotSource

__all__ = ["HubSpotSource"]
