"""Attribution: pure functions that spread a deal's revenue over its journey's touchpoints.

``weights`` gives each touch its exact share (``Fraction``, summing to 1); ``split_amount``
turns weights into money that sums to the amount to the cent (largest remainder); ``credited``
picks the touches that may take credit (Direct ones only when there is nothing else).
"""

from __future__ import annotations

from connector.attribution.direct import credited, is_direct
from connector.attribution.models import MODELS, attribute, weights
from connector.attribution.shares import Share, split_amount

__all__ = ["MODELS", "Share", "attribute", "credited", "is_direct", "split_amount", "weights"]
