"""Everything a process needs, built once from the settings: engine, sessions, identity."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from connector.config import Settings
from connector.counters import Counters
from connector.mapping import MappingProfile, load_profile
from connector.storage import lease, migrate
from connector.storage.db import READ_ONLY, make_engine, session_factory


def process_identity() -> str:
    """A holder name that tells ops which host and process holds a lease."""
    return lease.holder_name()


@dataclass
class Runtime:
    """Shared state of one closedloop process."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    holder: str = field(default_factory=process_identity)
    #: Stops background threads bound to this runtime (CRM write-back) before the engine goes.
    _closers: list[Callable[[], None]] = field(default_factory=list, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, *, upgrade: bool = True) -> Runtime:
        """Connect to the database and, by default, apply pending migrations."""
        engine = make_engine(
            settings.database.connect_url(),
            pool_size=settings.database.pool_size,
            echo=settings.database.echo,
        )
        if upgrade:
            migrate.upgrade(engine)
        return cls(settings=settings, engine=engine, sessions=session_factory(engine))

    @cached_property
    def read_sessions(self) -> sessionmaker[Session]:
        """Sessions for reports and other reads: on SQLite they take no write lock.

        A report can read for seconds; in a writing transaction (``BEGIN IMMEDIATE``) it would
        hold SQLite's single write lock all that time and every collected page view would wait
        behind it. Marked read-only, its transaction is a plain ``BEGIN`` that reads the last
        committed state beside the writers (WAL). Nothing may be written in these sessions.
        On PostgreSQL readers never block writers, and these are the ordinary sessions.
        """
        if self.engine.dialect.name != "sqlite":
            return self.sessions
        return session_factory(self.engine.execution_options(**{READ_ONLY: True}))

    @cached_property
    def profile(self) -> MappingProfile:
        """The mapping profile (part of the config): read, merged and validated once."""
        return load_profile(self.settings)

    @cached_property
    def counters(self) -> Counters:
        """This process's growing totals (tracking, write-back), shared through the database."""
        return Counters(self.engine)

    def on_close(self, closer: Callable[[], None]) -> None:
        """Run ``closer`` at :meth:`close`, before the engine is disposed.

        A thread still polling a closed runtime would log a failure per poll against a
        database that may be gone; whoever starts one registers its stop here.
        """
        self._closers.append(closer)

    def close(self) -> None:
        """Stop bound threads, store pending counts, then release pooled connections."""
        while self._closers:
            self._closers.pop()()
        if "counters" in self.__dict__:
            self.counters.flush()
        self.engine.dispose()
