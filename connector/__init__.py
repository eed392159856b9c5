"""closedloop: closed-loop revenue attribution from HubSpot deals to ad platforms."""

__version__ = "0.1.0"
