"""Uploaded files waiting between their preview and their import, on disk, never in memory.

The upload page previews a file and imports it on a later request, so the file is kept in a
directory of its own (``dashboard.upload_dir``, default ``closedloop-uploads`` in the system's
temporary directory), named by a random token that only the uploader's session holds. A file
is removed once imported; any left longer than ``MAX_AGE`` (an abandoned preview) is removed at
the next upload. Behind several replicas the directory must be shared (or sessions sticky).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

#: How long an uploaded file waits for its import.
MAX_AGE_SECONDS = 6 * 3600
CHUNK = 1024 * 1024
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")


def directory(configured: str | None) -> Path:
    """The upload directory, created (owner only) if missing."""
    path = Path(configured) if configured else Path(tempfile.gettempdir()) / "closedloop-uploads"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def stage(folder: Path, stream: BinaryIO) -> str:
    """Copy ``stream`` into a new file of ``folder``, in chunks; its token."""
    sweep(folder)
    token = secrets.token_urlsafe(24)
    target = folder / f"{token}.csv"
    with target.open("xb") as out:
        os.chmod(target, 0o600)
        shutil.copyfileobj(stream, out, CHUNK)
    return token


def staged(folder: Path, token: object) -> Path | None:
    """The file of ``token``, if the token is well formed and the file still there."""
    if not isinstance(token, str) or not _TOKEN.match(token):
        return None
    path = folder / f"{token}.csv"
    return path if path.is_file() else None


def discard(folder: Path, token: object) -> None:
    """Remove the file of ``token`` (imported, or replaced by a new upload)."""
    path = staged(folder, token)
    if path is not None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def sweep(folder: Path, *, now: float | None = None) -> int:
    """Remove files older than ``MAX_AGE_SECONDS``; how many went."""
    limit = (now if now is not None else time.time()) - MAX_AGE_SECONDS
    removed = 0
    for path in folder.glob("*.csv"):
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime < limit:
                path.unlink()
                removed += 1
    return removed
