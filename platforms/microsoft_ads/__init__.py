"""Microsoft Advertising: offline conversions through the REST SDK (``msads``)."""
