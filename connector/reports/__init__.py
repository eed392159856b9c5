"""Reports: source, opportunity, delivery and model comparison; same numbers everywhere."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from connector.reports.compare import model_comparison
from connector.reports.delivery import delivery_report
from connector.reports.opportunities import opportunity_report
from connector.reports.ranges import MAX_RANGE_DAYS, RangeError, default_range, parse_range
from connector.reports.sources import (
    DIMENSIONS,
    MODELS,
    ReportRange,
    source_report,
    source_report_options,
)

__all__ = [
    "DIMENSIONS",
    "MAX_RANGE_DAYS",
    "MODELS",
    "RangeError",
    "ReportRange",
    "default_range",
    "delivery_report",
    "jsonable",
    "model_comparison",
    "opportunity_report",
    "parse_range",
    "source_report",
    "source_report_options",
]


def jsonable(value: Any) -> Any:
    """Decimals become JSON numbers (money is already rounded to cents)."""
    if isinstance(value, Decimal):
        return (
            int(value)
            if value == value.to_integral_value() and value.as_tuple().exponent >= 0
            else float(value)
        )
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value
