"""Helpers shared by the CLI commands: lazy settings and runtime, exit codes."""

from __future__ import annotations

from dataclasses import dataclass, field

import click

from connector.config import Settings, load_config, secret_values
from connector.errors import ConfigError
from connector.logs import setup_logging
from connector.runtime import Runtime

EXIT_OK, EXIT_FAILURES, EXIT_CONFIG = 0, 1, 2


@dataclass
class Obj:
    """Per-invocation state: the config path, and settings/runtime built on first use."""

    config_path: str | None
    _settings: Settings | None = field(default=None, repr=False)
    _runtime: Runtime | None = field(default=None, repr=False)

    def settings(self) -> Settings:
        """Load (once) and validate the config; config errors exit with code 2."""
        if self._settings is None:
            try:
                self._settings = load_config(self.config_path)
            except ConfigError as exc:
                click.echo(f"config error: {exc}", err=True)
                raise SystemExit(EXIT_CONFIG) from None
            setup_logging(
                self._settings.logging.level,
                self._settings.logging.format,
                secret_values(self._settings),
            )
        return self._settings

    def runtime(self, *, upgrade: bool = True) -> Runtime:
        """Connect to the database (applying migrations unless told not to)."""
        if self._runtime is None:
            self._runtime = Runtime.from_settings(self.settings(), upgrade=upgrade)
        return self._runtime


pass_obj = click.make_pass_decorator(Obj)
