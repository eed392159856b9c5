"""Meta: Conversions API destination, Marketing API spend, and the Graph API sandbox.

The adapter (and with it the facebook-business SDK) is imported on first use only, so that
tracking, which asks ``platforms.meta.cookies`` about Meta's cookies on every page view, never
loads the SDK in a web replica.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MetaDestination"]


def __getattr__(name: str) -> Any:
    if name == "MetaDestination":
        from platforms.meta.adapter import MetaDestination

        return MetaDestination
    raise AttributeError(name)
