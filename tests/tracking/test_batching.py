"""Group commit: batches keep per-visitor order, and one bad hit never sinks the others."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import event, select, text

from connector.storage.models import ClickId, Touchpoint, Visitor, utcnow
from connector.tracking.collect import Hit, record_page_views
from connector.tracking.schemas import PageView
from connector.tracking.writer import HitWriter, StoreFailed


def _hit(visitor: str, url: str, at, referrer: str | None = None, **extra) -> Hit:
    view = PageView(
        visitor_id=visitor, url=url, referrer=referrer, ts=int(at.timestamp() * 1000), **extra
    )
    return Hit(view, at)


def test_batch_chains_sessions_and_merges_visitors(runtime):
    """Two hits of one visitor in one batch: the second continues the first's paid session."""
    now = utcnow()
    ids = record_page_views(
        runtime.engine,
        [
            _hit("visitor-aaaa", "https://s.example/?gclid=G1", now - timedelta(minutes=3)),
            _hit("visitor-bbbb", "https://s.example/?gclid=G1", now - timedelta(minutes=2)),
            _hit(
                "visitor-aaaa",
                "https://s.example/next",
                now,
                referrer="https://s.example/",
                ga_client_id="1.2",
            ),
        ],
    )
    assert len(ids) == 3 and ids == sorted(ids)
    with runtime.sessions() as session:
        first, _, second = session.scalars(select(Touchpoint).order_by(Touchpoint.id)).all()
        visitors = session.scalars(select(Visitor).order_by(Visitor.id)).all()
        click = session.scalars(select(ClickId)).one()
    assert (second.channel, second.is_new_session) == ("Paid Search", False)
    assert first.is_new_session is True
    assert [v.id for v in visitors] == ["visitor-aaaa", "visitor-bbbb"]
    assert visitors[0].ga_client_id == "1.2"
    assert visitors[0].first_seen_at < visitors[0].last_seen_at
    assert (click.visitor_id, click.touchpoint_id) == ("visitor-aaaa", first.id)


def test_writer_isolates_a_failing_hit(runtime):
    """Concurrent hits through the writer: the refused one fails alone, the rest are stored."""
    with runtime.engine.begin() as conn:
        if runtime.engine.dialect.name == "sqlite":
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_click BEFORE INSERT ON click_ids "
                    "WHEN NEW.value = 'boom' BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_click() RETURNS trigger AS $$ BEGIN "
                    "IF NEW.value = 'boom' THEN RAISE EXCEPTION 'refused'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_click BEFORE INSERT ON click_ids "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_click()"
                )
            )
    writer = HitWriter(runtime.engine)
    now = utcnow()
    outcomes: dict[int, object] = {}
    start = threading.Barrier(20)

    def send(n: int) -> None:
        gclid = "boom" if n == 7 else f"g{n}"
        start.wait()
        try:
            outcomes[n] = writer.write(
                _hit(f"visitor-{n:04d}", f"https://s.example/?gclid={gclid}", now)
            )
        except StoreFailed as exc:
            outcomes[n] = exc

    threads = [threading.Thread(target=send, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert isinstance(outcomes.pop(7), StoreFailed)
    assert all(isinstance(v, int) for v in outcomes.values())
    with runtime.sessions() as session:
        stored = set(session.scalars(select(Touchpoint.visitor_id)))
        assert session.get(Visitor, "visitor-0007") is None
    assert stored == {f"visitor-{n:04d}" for n in range(20) if n != 7}


@pytest.mark.parametrize("size", [1, 300])
def test_batch_sizes(runtime, size):
    """Single hits and batches above the writer's batch size both store every hit."""
    now = utcnow()
    hits = [_hit(f"visitor-{n:05d}", f"https://s.example/{n}", now) for n in range(size)]
    assert len(record_page_views(runtime.engine, hits)) == size


def test_click_ids_keep_first_sighting_within_and_across_batches(runtime):
    """A click ID seen twice in a batch, then again later, keeps its first time and touch."""
    now = utcnow().replace(microsecond=0)  # hits carry milliseconds
    first, second = record_page_views(
        runtime.engine,
        [
            _hit("visitor-aaaa", "https://s.example/?gclid=G1", now - timedelta(minutes=5)),
            _hit("visitor-bbbb", "https://s.example/?gclid=G1&fbclid=F1", now),
        ],
    )
    (third,) = record_page_views(
        runtime.engine, [_hit("visitor-cccc", "https://s.example/?fbclid=F1", now)]
    )
    assert first < second < third
    with runtime.sessions() as session:
        clicks = {c.value: c for c in session.scalars(select(ClickId))}
        fbc = session.get(Visitor, "visitor-bbbb").fbc
    assert (clicks["G1"].visitor_id, clicks["G1"].touchpoint_id) == ("visitor-aaaa", first)
    assert clicks["G1"].first_seen_at == now - timedelta(minutes=5)
    assert (clicks["F1"].visitor_id, clicks["F1"].touchpoint_id) == ("visitor-bbbb", second)
    assert fbc is not None and fbc.endswith(".F1")


def test_batch_writes_in_one_statement_on_postgresql(runtime):
    """On PostgreSQL a batch is a read and one write statement, whatever its size."""
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    now = utcnow()
    hits = [_hit(f"visitor-{n:05d}", f"https://s.example/?gclid=C{n}", now) for n in range(20)]
    event.listen(runtime.engine, "before_cursor_execute", count)
    try:
        ids = record_page_views(runtime.engine, hits)
    finally:
        event.remove(runtime.engine, "before_cursor_execute", count)
    assert len(statements) == 2 and len(ids) == 20 and ids == sorted(ids)
    with runtime.sessions() as session:
        clicks = session.execute(select(ClickId.value, ClickId.touchpoint_id)).all()
    assert sorted(clicks) == sorted((f"C{n}", ids[n]) for n in range(20))


def test_the_postgresql_batch_statement_writes_every_stored_column():
    """A column added to the models must reach PostgreSQL's one-statement write too.

    SQLite's path writes whole rows; the PostgreSQL statement names its columns, so a new one
    would be stored on SQLite and silently dropped on PostgreSQL.
    """
    from connector.storage.models import Touchpoint, Visitor
    from connector.tracking.pgwrite import _TOUCH_COLUMNS, _VISITOR_COLUMNS

    # The touchpoint ID comes from the sequence; the person is linked by /identify; a click's
    # resolution (its campaign and keyword) is linked later by the spend pull, never at collect.
    assert {n for n, _ in _TOUCH_COLUMNS} == set(Touchpoint.__table__.c.keys()) - {
        "id",
        "click_resolution_id",
    }
    assert {n for n, _ in _VISITOR_COLUMNS} == set(Visitor.__table__.c.keys()) - {"person_id"}
