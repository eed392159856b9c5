"""Secrets, bearer tokens and email addresses never reach the logs."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import yaml

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
