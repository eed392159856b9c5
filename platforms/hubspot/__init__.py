"""HubSpot CRM: the deal source, contact write-back, and a local emulator for tests and demo.

Nothing is imported here, so loading the config (``platforms.hubspot.settings``) never loads
the SDK; the registry (``platforms.PLATFORMS``) names the modules.
"""
