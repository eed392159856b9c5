"""Migrations and models on the configured database (SQLite here, PostgreSQL in CI)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from connector.storage import migrate
from connector.storage.db import make_engine
from connector.storage.models import Base, Conversion, Visitor


def test_migrations_reach_head_and_match_models(db_url: str):
    """Upgrading an empty database yields exactly the schema the models declare."""
    engine = make_engine(db_url)
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_upgrade_is_idempotent(db_url: str):
    """Running the migrations twice changes nothing (start-up does it every time)."""
    engine = make_engine(db_url)
    migrate.upgrade(engine)
    tables = set(inspect(engine).get_table_names())
    migrate.upgrade(engine)
    assert set(inspect(engine).get_table_names()) == tables
    assert {"visitors", "touchpoints", "conversions", "leases", "sync_runs"} <= tables
    engine.dispose()


def test_times_round_trip_as_aware_utc(runtime):
    """Aware datetimes come back aware and in UTC on every backend."""
    cet = datetime(2026, 3, 1, 12, 0, tzinfo=UTC).astimezone()
    with runtime.sessions.begin() as session:
        session.add(Visitor(id="v1", first_seen_at=cet, last_seen_at=cet))
    with runtime.sessions() as session:
        visitor = session.get(Visitor, "v1")
    assert visitor.first_seen_at == cet
    assert visitor.first_seen_at.tzinfo is not None
    assert visitor.first_seen_at.utcoffset() == timedelta(0)


def test_outbox_dedup_key_is_unique_per_destination_and_kind(runtime):
    """The unique (destination, kind, dedup_key) is what makes re-planning unable to double."""
    from decimal import Decimal

    import pytest
    from sqlalchemy.exc import IntegrityError

    now = datetime.now(UTC)
    row = dict(
        deal_id="d1",
        destination="meta",
        kind="conversion",
        event_name="Purchase",
        dedup_key="cl-d1-closed_won",
        value=Decimal("1234.50"),
        currency="GBP",
        event_time=now,
    )
    with runtime.sessions.begin() as session:
        session.add(Conversion(**row))
    with pytest.raises(IntegrityError), runtime.sessions.begin() as session:
        session.add(Conversion(**row))
    with runtime.sessions() as session:
        stored = session.query(Conversion).one()
    assert stored.value == Decimal("1234.5000")
