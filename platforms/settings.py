"""What every platform's settings model (``platforms/<name>/settings.py``) builds on.

A platform's settings are a config section under ``platforms.<name>``: unknown keys are
errors, secrets are ``connector.config.checks.Secret``, and ``enabled`` switches it on.
"""

from __future__ import annotations

from connector.config.section import Section


class PlatformSettings(Section):
    """Fields every platform has."""

    enabled: bool = False

    def snippet_options(self) -> dict[str, object]:
        """Values the tracking snippet needs to read this platform's cookies (None: unset)."""
        return {}

    def required(self, *names: str) -> list[str]:
        """Names among ``names`` that are unset, for 'enabled but incomplete' errors."""
        return [n for n in names if getattr(self, n) in (None, "")]
