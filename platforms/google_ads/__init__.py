"""Google Ads: offline conversions through the Data Manager API (default) or the Google Ads API.

Nothing is imported here, so loading the config (``platforms.google_ads.settings``) never
loads the SDKs; the registry (``platforms.PLATFORMS``) names the modules.
"""
