"""Secrets, bearer tokens and email addresses never reach the logs."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import yaml
from click.testing import CliRunner

from connector.cli import cli
from connector.logs import RedactingFilter, setup_logging

SECRETS = ["pat-na1-0123456789abcdef", "EAAB-meta-secret-token", "ga4-api-secret-xyz"]


def test_filter_masks_secrets_tokens_and_emails(capfd):
    """Configured secrets, Bearer tokens and emails are masked, also inside tracebacks."""
    setup_logging("DEBUG", "text", SECRETS)
    log = logging.getLogger("closedloop.test")
    log.info("token %s for Jane.Doe@Example.com", SECRETS[0])
    log.warning("header Authorization: Bearer abc.def.ghi and url ?access_token=zzz123")
    try:
        raise RuntimeError(f"bad secret {SECRETS[1]}")
    except RuntimeError:
        log.exception("failed")
    err = capfd.readouterr().err
    for secret in [*SECRETS[:2], "Jane.Doe@Example.com", "abc.def.ghi", "zzz123"]:
        assert secret not in err
    assert "***" in err
    assert "RuntimeError" in err


def test_json_format_is_one_object_per_line(capfd):
    """JSON logs are one parseable object per line, also redacted."""
    import json

    setup_logging("INFO", "json", SECRETS)
    logging.getLogger("closedloop.test").info("secret %s", SECRETS[2])
    lines = [ln for ln in capfd.readouterr().err.splitlines() if ln.strip()]
    record = json.loads(lines[-1])
    assert record["message"] == "secret ***"


def test_filter_keeps_longest_secret_whole():
    """A secret that contains another is masked whole, not partially."""
    f = RedactingFilter(["abcd", "abcdefgh"])
    assert f.scrub("x abcdefgh y") == "x *** y"


def test_cli_output_never_contains_configured_secrets(tmp_path: Path, db_url: str):
    """A real CLI run at DEBUG with secrets configured prints none of them anywhere."""
    config = {
        "database": {"url": db_url},
        "logging": {"level": "DEBUG"},
        "server": {"trigger_token": "trigger-secret-987"},
        "platforms": {
            "hubspot": {"enabled": False, "access_token": SECRETS[0]},
            "meta": {"enabled": False, "access_token": SECRETS[1]},
            "ga4": {"enabled": False, "api_secret": SECRETS[2]},
        },
    }
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    out = ""
    for args in (["config", "check"], ["sync", "--once"]):
        proc = subprocess.run(
            [sys.executable, "-m", "connector.cli", "-c", str(path), *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        out += proc.stdout + proc.stderr
    assert "config ok" in out
    for secret in [*SECRETS, "trigger-secret-987"]:
        assert secret not in out


def test_google_sdk_records_go_through_the_redaction_and_the_json_format(capfd):
    """Google's SDKs turn off propagation of the ``google`` logger; ours still sees them."""
    import json

    from google.api_core import client_logging
    from google.auth import _helpers

    setup_logging("INFO", "json", SECRETS)
    # What google-auth and google-api-core do when their first client is built.
    _helpers._LOGGING_INITIALIZED = False
    client_logging._LOGGING_INITIALIZED = False
    _helpers.is_logging_enabled(logging.getLogger("google.auth.transport"))
    client_logging.initialize_logging()
    logging.getLogger("google.ads.googleads.client").warning("token %s refused", SECRETS[0])
    lines = [ln for ln in capfd.readouterr().err.splitlines() if ln.strip()]
    assert SECRETS[0] not in "".join(lines)
    record = json.loads(lines[-1])
    assert record["logger"] == "google.ads.googleads.client"
    assert record["message"] == "token *** refused"


def test_sql_errors_carry_no_bound_values(runtime):
    """A failing statement's error names the SQL but not the values bound to it (PII)."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    phone = "+15551234567"
    try:
        with runtime.engine.connect() as conn:
            conn.execute(text("SELECT :phone FROM no_such_table"), {"phone": phone})
    except DBAPIError as exc:
        message = str(exc)
    assert "no_such_table" in message
    assert phone not in message


def test_config_check_and_the_log_filter_hide_the_database_password(tmp_path: Path):
    """``config check`` prints database.url without its password; logs mask it too."""
    from connector.config import parse_config, redacted, secret_values

    url = "postgresql+psycopg://closedloop:pw%2Fsecret-42@db.internal:5432/closedloop"
    settings = parse_config({"database": {"url": url}})
    shown = redacted(settings)["database"]["url"]
    assert shown == "postgresql+psycopg://closedloop:***@db.internal:5432/closedloop"
    masked = RedactingFilter(secret_values(settings)).scrub(f"cannot connect to {url}")
    assert "secret-42" not in masked
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"database": {"url": url}}))
    result = CliRunner().invoke(cli, ["-c", str(path), "config", "check"])
    assert result.exit_code == 0, result.output
    assert "secret-42" not in result.output and "closedloop:***@db.internal" in result.output
