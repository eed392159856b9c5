"""Backups of the store, which holds the dedup history: lose it and conversions are re-sent.

SQLite: SQLite's online backup API (``sqlite3.Connection.backup``) copies a consistent
snapshot page by page while the service keeps running. A file copy of a WAL database is not a
backup: recent commits live in ``-wal`` beside it, and a copy taken mid-checkpoint is torn.

PostgreSQL: ``pg_dump`` in custom format (restored with ``pg_restore``), run with the
configured URL; the password travels in ``PGPASSWORD``, never on the command line (other
users can read a process's arguments). A ``search_path`` set in the URL's ``options`` means
closedloop lives in that schema, and only that schema is dumped.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url

#: The table Alembic keeps the schema revision in: present in every closedloop database.
REVISION_TABLE = "alembic_version"


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class Command:
    """An external command and the environment it needs (the password stays out of argv)."""

    argv: list[str]
    env: dict[str, str]

    def shown(self) -> str:
        """The command as a user would type it, with the password as a placeholder."""
        prefix = "PGPASSWORD=... " if "PGPASSWORD" in self.env else ""
        return prefix + shlex.join(self.argv)


def dialect(url: str) -> str:
    """``sqlite`` or ``postgresql`` (whatever the driver suffix)."""
    return make_url(url).get_backend_name()


def sqlite_file(url: str) -> Path:
    """The database file of a SQLite URL; in-memory databases have nothing to back up."""
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("database.url is an in-memory SQLite database: nothing to back up")
    return Path(database)


def backup_sqlite(database: Path, target: Path) -> int:
    """Copy a consistent snapshot of ``database`` into ``target``; returns the page count.

    The copy goes to a temporary file renamed into place, so ``target`` is never half written.
    """
    if not database.is_file():
        raise BackupError(f"database file {database} does not exist")
    if target.exists() and target.is_dir():
        raise BackupError(f"{target} is a directory; give a file name")
    if _same_file(target, database):
        raise BackupError(f"{target} is the database itself; give another file name")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(database)
    try:
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)
            pages = copy.execute("PRAGMA page_count").fetchone()[0]
        finally:
            copy.close()
    finally:
        source.close()
    partial.replace(target)
    return int(pages)


def restore_sqlite(backup: Path, database: Path, *, force: bool = False) -> str:
    """Write ``backup`` over ``database`` through the backup API; returns its schema revision.

    Refuses a file that is not a sound closedloop backup, and a database that holds tables
    already (its dedup history would be lost) unless ``force``. Stop the service first.
    """
    if _same_file(backup, database):
        raise BackupError(f"{backup} is the configured database itself")
    revision = _check_backup(backup)
    if database.exists() and _tables(database) and not force:
        raise BackupError(
            f"database {database} is not empty; stop the service and pass --force to replace it"
        )
    database.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    try:
        target = sqlite3.connect(database)
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()
    return revision


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (``-wal``/``-shm`` companions included)."""
    a, b = a.resolve(), b.resolve()
    return a == b or any(a == b.with_name(b.name + suffix) for suffix in ("-wal", "-shm"))


def _check_backup(backup: Path) -> str:
    if not backup.is_file():
        raise BackupError(f"backup file {backup} does not exist")
    try:
        conn = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
        try:
            (verdict,) = conn.execute("PRAGMA quick_check").fetchone()
            has_revision = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                (REVISION_TABLE,),
            ).fetchone()
            revision = (
                conn.execute(f"SELECT version_num FROM {REVISION_TABLE}").fetchone()
                if has_revision
                else None
            )
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{backup} is not a SQLite database ({exc})") from None
    if verdict != "ok":
        raise BackupError(f"{backup} is damaged: {verdict}")
    if revision is None:
        raise BackupError(f"{backup} is not a closedloop database (no {REVISION_TABLE})")
    return str(revision[0])


def _tables(database: Path) -> list[str]:
    conn = sqlite3.connect(database)
    try:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    finally:
        conn.close()
    return [name for (name,) in rows]


def pg_dump(url: str, target: Path) -> Command:
    """``pg_dump`` (custom format) of the configured database, or of its schema."""
    libpq, env = _libpq(url)
    argv = ["pg_dump", "--format=custom", "--no-owner", f"--file={target}"]
    if schema := _schema(make_url(url)):
        argv.append(f"--schema={schema}")
    return Command([*argv, f"--dbname={libpq}"], env)


def pg_restore(url: str, backup: Path) -> Command:
    """``pg_restore`` of a ``pg_dump`` custom-format file into the configured (empty) database."""
    libpq, env = _libpq(url)
    argv = ["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={libpq}", str(backup)]
    return Command(argv, env)


def on_path(program: str) -> bool:
    """Whether ``program`` (``pg_dump``) can be run."""
    return shutil.which(program) is not None


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """The URL as libpq takes it (no SQLAlchemy driver suffix, no password) and its env."""
    parsed = make_url(url)
    env = {"PGPASSWORD": parsed.password} if parsed.password else {}
    plain = URL.create(  # built anew: ``URL.set(password=None)`` keeps the password
        "postgresql",
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        query=parsed.query,
    )
    return plain.render_as_string(hide_password=False), env


def _schema(url: URL) -> str | None:
    """The schema a ``-csearch_path=NAME`` in the URL's ``options`` puts closedloop in."""
    options = url.query.get("options")
    text = " ".join(options) if isinstance(options, tuple) else (options or "")
    found = re.search(r"-c\s*search_path\s*=\s*([^\s,]+)", text)
    return found.group(1).strip('"') if found else None


def environment(command: Command) -> dict[str, str]:
    """This process's environment plus the command's own (the password)."""
    return {**os.environ, **command.env}
