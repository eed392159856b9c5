"""Google Ads: offline conversions through the Data Manager API (default) or the Google Ads API."""

from platforms.google_ads.adapter import GoogleAdsDestination

__all__ = ["GoogleAdsDestination"]
