"""``database.password`` / ``password_file``: the one secret that used to live inside a URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.config import parse_config, redacted, secret_values
from connector.errors import ConfigError
from connector.storage import backup

URL = "postgresql+psycopg://closedloop@db:5432/closedloop"


def test_password_file_goes_into_the_connection_url_only(tmp_path: Path):
    """A Docker secret file holds the password; config check and logs never show it."""
    secret = tmp_path / "postgres_password"
    secret.write_text("s3cret-pw\n")
    settings = parse_config({"database": {"url": URL, "password_file": str(secret)}})
    assert settings.database.connect_url() == (
        "postgresql+psycopg://closedloop:s3cret-pw@db:5432/closedloop"
    )
    assert settings.database.url == URL
    assert redacted(settings)["database"]["password"] == "***"
    assert "s3cret-pw" in secret_values(settings)  # so the log filter masks it


def test_pg_dump_gets_the_password_from_the_file_not_argv(tmp_path: Path):
    """The file's password reaches pg_dump as PGPASSWORD."""
    secret = tmp_path / "pw"
    secret.write_text("s3cret-pw")
    settings = parse_config({"database": {"url": URL, "password_file": str(secret)}})
    command = backup.pg_dump(settings.database.connect_url(), tmp_path / "x.dump")
    assert command.env == {"PGPASSWORD": "s3cret-pw"}
    assert "s3cret-pw" not in " ".join(command.argv)


def test_a_password_in_two_places_is_refused():
    """URL password and database.password could disagree: the error names the key."""
    with pytest.raises(ConfigError, match=r"database: password"):
        parse_config(
            {"database": {"url": URL.replace("closedloop@", "closedloop:x@"), "password": "y"}}
        )


def test_without_password_the_url_is_used_as_written():
    """No password key: the URL is the connection URL (SQLite, or a password inside it)."""
    settings = parse_config({"database": {"url": "sqlite:///x.db"}})
    assert settings.database.connect_url() == "sqlite:///x.db"
