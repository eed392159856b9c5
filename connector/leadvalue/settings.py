"""The mapping profile's ``lead_values`` block: off unless it says ``enabled: true``."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

#: The lead stages, in funnel order: identified on the site, then the CRM's MQL and SQL.
LEAD_STAGES = ("lead", "mql", "sql")


class LeadValueSettings(BaseModel):
    """How lead values are learned and when a stage entry is still worth sending.

    ``window_days``: the trailing window of stage entries whose later revenue teaches the
    value. ``prior_weight`` (k): how many leads' worth of weight the overall value carries
    when a source's own sample is shrunk toward it (value = (n·mean + k·overall) / (n + k)).
    ``send_within_days``: a stage entry older than this is not sent (the point is speed; the
    platforms' own age limits apply as well). ``currency``: the deals' currency values are
    learned in (default the config's ``currency``); deals in other currencies are left out.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    window_days: int = Field(180, ge=1, le=3650)
    prior_weight: Decimal = Field(Decimal(20), ge=0)
    send_within_days: int = Field(7, ge=1, le=90)
    currency: str | None = Field(None, pattern=r"^[A-Za-z]{3}$")
