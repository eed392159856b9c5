"""GA4: purchases through the Measurement Protocol, sessions from the Data API.

Nothing is imported here, so loading the config (``platforms.ga4.settings``) never loads the
SDKs; the registry (``platforms.PLATFORMS``) names the modules.
"""
