"""How ``closedloop demo`` runs the HubSpot sandbox."""

from __future__ import annotations

#: A Professional portal's limit: the demo writes every lead back, so it needs the headroom.
OPTIONS = {"requests_per_10s": 190}
#: The same limit in the connector's config section, so its own throttle matches.
CONFIG = {"requests_per_10s": 190}
