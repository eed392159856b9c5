"""Meta: Conversions API destination, Marketing API spend, and the Graph API sandbox."""

from platforms.meta.adapter import MetaDestination

__all__ = ["MetaDestination"]
