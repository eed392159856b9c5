"""``db backup`` / ``db restore`` file handling: WAL snapshots, refusals, PostgreSQL commands."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import func, select

from connector.cli import cli
from connector.config import parse_config
from connector.runtime import Runtime
from connector.storage import backup
from connector.storage.models import Person
from tests.sync.conftest import Seeder


def config_file(tmp_path: Path, url: str, name: str = "closedloop.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"database": {"url": url}}))
    return path


def db(config: Path, *args: str):
    return CliRunner().invoke(cli, ["-c", str(config), "db", *args])


def people(path: Path) -> int | None:
    """Rows in ``persons``; None when the file does not even have the table."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT count(*) FROM persons").fetchone()[0]
    except sqlite3.OperationalError:
        return None
    finally:
        conn.close()


@pytest.fixture
def live(tmp_path: Path) -> Runtime:
    """A migrated SQLite store in WAL mode, held open like a running service holds it."""
    rt = Runtime.from_settings(
        parse_config({"database": {"url": f"sqlite:///{tmp_path / 'live.db'}"}})
    )
    yield rt
    rt.close()


def test_backup_of_a_live_wal_database_has_the_commits_still_in_the_wal(live, tmp_path):
    """Commits not yet checkpointed are in the backup; a copy of the main file lacks them."""
    for i in range(3):
        Seeder(live).person(f"p{i}@example.com")
    wal = tmp_path / "live.db-wal"
    assert wal.exists() and wal.stat().st_size > 0  # the service still holds its connections
    copied = tmp_path / "copied.db"
    shutil.copyfile(tmp_path / "live.db", copied)  # what a file copy would keep
    target = tmp_path / "backup.db"
    result = db(config_file(tmp_path, str(live.engine.url)), "backup", str(target))
    assert result.exit_code == 0, result.output
    assert people(target) == 3
    assert people(copied) != 3  # why a file copy is no backup (even the tables may be missing)


def test_restore_refuses_a_store_with_data_unless_forced(live, tmp_path):
    """Restoring over a store that holds data needs --force; then the backup's data wins."""
    Seeder(live).person("kept@example.com")
    target = tmp_path / "backup.db"
    assert db(config_file(tmp_path, str(live.engine.url)), "backup", str(target)).exit_code == 0
    other = tmp_path / "other.db"
    rt = Runtime.from_settings(parse_config({"database": {"url": f"sqlite:///{other}"}}))
    for i in range(2):
        Seeder(rt).person(f"other{i}@example.com")
    rt.close()
    config = config_file(tmp_path, f"sqlite:///{other}", "other.yaml")
    refused = db(config, "restore", str(target))
    assert refused.exit_code == 1 and "not empty" in refused.output and "--force" in refused.output
    assert people(other) == 2
    forced = db(config, "restore", "--force", str(target))
    assert forced.exit_code == 0, forced.output
    assert people(other) == 1
    rt = Runtime.from_settings(parse_config({"database": {"url": f"sqlite:///{other}"}}))
    with rt.sessions() as session:  # the service opens it (migrations current) and reads it
        assert session.scalar(select(func.count()).select_from(Person)) == 1
    rt.close()


def test_restore_into_a_missing_file_needs_no_force(live, tmp_path):
    """A new server: the database file does not exist yet, restore creates it."""
    target = tmp_path / "backup.db"
    assert db(config_file(tmp_path, str(live.engine.url)), "backup", str(target)).exit_code == 0
    fresh = tmp_path / "new" / "closedloop.db"
    result = db(config_file(tmp_path, f"sqlite:///{fresh}", "new.yaml"), "restore", str(target))
    assert result.exit_code == 0, result.output
    assert fresh.is_file() and "revision" in result.output


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"not a database at all, just text" * 40, "not a SQLite database"),
        (None, "not a closedloop"),
    ],
)
def test_restore_refuses_what_is_no_closedloop_backup(tmp_path, content, reason):
    """A stray file or someone else's SQLite database is refused by name, nothing written."""
    source = tmp_path / "stray.db"
    if content is None:
        conn = sqlite3.connect(source)
        conn.execute("CREATE TABLE t (x)")
        conn.commit()
        conn.close()
    else:
        source.write_bytes(content)
    target = tmp_path / "target.db"
    result = db(config_file(tmp_path, f"sqlite:///{target}"), "restore", str(source))
    assert result.exit_code == 1 and reason in result.output, result.output
    assert not target.exists()


def test_backup_of_a_missing_database_is_refused(tmp_path):
    """No database file: an error, and no empty database is created by the attempt."""
    missing = tmp_path / "missing.db"
    result = db(config_file(tmp_path, f"sqlite:///{missing}"), "backup", str(tmp_path / "b.db"))
    assert result.exit_code == 1 and "does not exist" in result.output
    assert not missing.exists() and not (tmp_path / "b.db").exists()


PG_URL = "postgresql+psycopg://closedloop:s3cret-pw@db.internal:5432/closedloop"


def test_pg_dump_keeps_the_password_out_of_its_arguments():
    """Anyone on the host can read argv (ps); the password goes in PGPASSWORD."""
    command = backup.pg_dump(PG_URL, Path("/backups/cl.dump"))
    assert not any("s3cret-pw" in part for part in command.argv)
    assert command.env == {"PGPASSWORD": "s3cret-pw"}
    assert command.argv[:2] == ["pg_dump", "--format=custom"]
    assert "--dbname=postgresql://closedloop@db.internal:5432/closedloop" in command.argv
    assert command.shown().startswith("PGPASSWORD=... pg_dump ")


def test_pg_dump_of_a_schema_install_dumps_that_schema():
    """Closedloop kept in a schema (search_path in the URL's options): only it is dumped."""
    url = "postgresql+psycopg://postgres@127.0.0.1/test?options=-csearch_path%3Dclosedloop"
    assert "--schema=closedloop" in backup.pg_dump(url, Path("x.dump")).argv
    assert not any(a.startswith("--schema") for a in backup.pg_dump(PG_URL, Path("x")).argv)


def test_without_pg_dump_the_command_is_printed(tmp_path, monkeypatch):
    """No PostgreSQL client tools here: exit 1 and the command to run elsewhere, no password."""
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on it
    result = db(config_file(tmp_path, PG_URL), "backup", str(tmp_path / "cl.dump"))
    assert result.exit_code == 1
    assert "pg_dump is not on PATH" in result.output and "PGPASSWORD=... pg_dump" in result.output
    assert "s3cret-pw" not in result.output


def test_restore_on_postgresql_prints_pg_restore(tmp_path):
    """PostgreSQL restores are pg_restore's job: the command, into an empty database."""
    result = db(config_file(tmp_path, PG_URL), "restore", "/backups/cl.dump")
    assert result.exit_code == 1
    assert "PGPASSWORD=... pg_restore --no-owner --exit-on-error" in result.output
    assert result.output.rstrip().endswith("/backups/cl.dump") and "s3cret-pw" not in result.output


def test_backup_onto_the_database_itself_is_refused(live, tmp_path):
    """`db backup closedloop.db` (or its -wal) would clobber the live store: refused."""
    config = config_file(tmp_path, str(live.engine.url))
    Seeder(live).person("kept@example.com")
    for name in ("live.db", "live.db-wal"):
        result = db(config, "backup", str(tmp_path / name))
        assert result.exit_code == 1 and "the database itself" in result.output
    result = db(config, "restore", "--force", str(tmp_path / "live.db"))
    assert result.exit_code == 1 and "the configured database itself" in result.output
    with live.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Person)) == 1
