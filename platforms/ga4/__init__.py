"""GA4: purchases through the Measurement Protocol, sessions from the Data API."""

from platforms.ga4.adapter import GA4Destination, GA4Event

__all__ = ["GA4Destination", "GA4Event"]
