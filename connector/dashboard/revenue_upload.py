"""``/dashboard/revenue``: upload a CSV of sales, see what it would do, then import it.

The same code as ``closedloop import revenue``: the file is checked by ``csv_import`` (every
row, streamed), previewed by ``connector.revenue.preview`` (the first rows matched and planned
read only), and imported by ``csv_import.import_file``; nothing is stored before "Import".
The mapping shown is the source's saved one (or the columns named like a field), editable; the
one imported with is saved for the source's next file. An import that stored anything starts a
run soon after (``connector.revenue.kick``), as a post to ``/revenue`` does.

Every form carries the session's CSRF token. A body over ``dashboard.max_upload_bytes`` is
refused (413) before it is read whole; a file that is not a CSV is a page naming the problem.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, current_app, redirect, render_template, request, url_for
from flask import session as cookie

from connector.app.bodyguard import UPLOADS
from connector.app.context import runtime
from connector.app.errors import ApiError
from connector.config.models import SOURCE_NAME
from connector.dashboard import sessions, uploads
from connector.dashboard.auth import csrf_ok, csrf_token, login_configured
from connector.revenue import kick
from connector.revenue.csv_import import (
    KEEP_ERRORS,
    TARGETS,
    RowError,
    UnreadableFile,
    columns_of,
    import_file,
)
from connector.revenue.mappings import save_mapping, saved_mapping
from connector.revenue.preview import PREVIEW_ROWS, preview_file

blueprint = Blueprint(
    "revenue_upload", __name__, url_prefix="/dashboard/revenue", template_folder="templates"
)
#: The session key of the file being previewed: its token, name and source.
CURRENT = "revenue_upload"
DEFAULT_SOURCE = "import"
_SOURCE = re.compile(SOURCE_NAME)


class PageError(Exception):
    """A problem with what the user sent: the page again, with the message, as a 400."""


def _folder() -> Path:
    return uploads.directory(runtime().settings.dashboard.upload_dir)


def _page(status: int = 200, **context: Any):
    settings = runtime().settings
    page = render_template(
        "revenue_upload.html",
        csrf=csrf_token(),
        targets=TARGETS,
        preview_rows=PREVIEW_ROWS,
        max_upload_bytes=settings.dashboard.max_upload_bytes,
        default_source=DEFAULT_SOURCE,
        **context,
    )
    return page, status


@blueprint.get("/")
def form():
    """The upload form (or the dashboard's login)."""
    if not login_configured(runtime().settings.dashboard):
        return render_template("dashboard_closed.html"), 403
    if not sessions.current_user():
        return redirect(url_for("dashboard.index"))
    return _page()


def _require_user_and_csrf() -> None:
    if not sessions.current_user():
        raise ApiError(401, "unauthorized", "log in at /dashboard")
    if not csrf_ok(request.form.get("csrf")):
        raise ApiError(400, "invalid_request", "csrf: missing or wrong form token")


@blueprint.post("/preview")
def preview():
    """A new file (``file``), or the current one with an edited mapping: what it would do."""
    request.max_content_length = runtime().settings.dashboard.max_upload_bytes
    _require_user_and_csrf()
    try:
        upload = request.files.get("file")
        if upload is not None and upload.filename:
            current = _stage_new(upload)
            given = saved_mapping(runtime().sessions, current["source"])
        elif not request.form.get("token"):
            raise PageError("Choose a CSV file to upload.")
        else:
            current, path = _current()
            given = _posted_mapping(path, current["source"])
        path = _path(current)
        result = preview_file(runtime(), path, given, current["source"])
    except PageError as exc:
        return _page(400, error=str(exc))
    return _page(upload=current, preview=result, mapping=result.report.mapping)


@blueprint.post("/import")
def confirm():
    """Import the previewed file with the posted mapping; save that mapping for its source."""
    _require_user_and_csrf()
    skipped: list[RowError] = []
    try:
        current, path = _current()
        given = _posted_mapping(path, current["source"])
        skip = request.form.get("skip_bad_rows") == "1"

        def keep(error: RowError) -> None:
            if len(skipped) < KEEP_ERRORS:
                skipped.append(error)

        report = import_file(
            runtime(), path, given, current["source"], skip_bad_rows=skip, skipped=keep
        )
    except PageError as exc:
        return _page(400, error=str(exc))
    if not report.imported:
        # Bad rows and no "skip": the preview again, saying why nothing was stored.
        result = preview_file(runtime(), path, given, current["source"])
        message = "Nothing imported: the file has the errors listed below."
        if report.bad_rows and report.unreadable is None:
            message = (
                f"Nothing imported: {report.bad_rows} row(s) have errors. Fix them, or tick "
                "“Skip bad rows” to import the others."
            )
        mapping = result.report.mapping
        return _page(400, error=message, upload=current, preview=result, mapping=mapping)
    save_mapping(runtime().sessions, current["source"], given)
    uploads.discard(_folder(), current["token"])
    cookie.pop(CURRENT, None)
    if report.outcomes.get("stored", 0) or report.outcomes.get("updated", 0):
        kick.kick(current_app)
    return _page(imported=report, upload=current, skipped=skipped)


def _stage_new(upload: Any) -> dict[str, str]:
    """Keep the uploaded file (replacing this session's previous one); the session's record."""
    source = (request.form.get("source") or DEFAULT_SOURCE).strip()
    if not _SOURCE.match(source):
        raise PageError("source: 1 to 15 of a-z and 0-9")
    previous = cookie.get(CURRENT)
    if isinstance(previous, dict):
        uploads.discard(_folder(), previous.get("token"))
    token = uploads.stage(_folder(), upload.stream)
    name = Path(upload.filename or "upload.csv").name[:120]
    current = {"token": token, "name": name, "source": source}
    cookie[CURRENT] = current
    return current


def _current() -> tuple[dict[str, str], Path]:
    """The session's file, which the form's token must name."""
    current = cookie.get(CURRENT)
    if not isinstance(current, dict) or current.get("token") != request.form.get("token"):
        raise PageError("That upload is not this session's current one: upload the file again.")
    return current, _path(current)


def _path(current: dict[str, str]) -> Path:
    path = uploads.staged(_folder(), current.get("token"))
    if path is None:
        raise PageError("The uploaded file is gone (too old, or on another server): upload again.")
    return path


def _posted_mapping(path: Path, source: str) -> dict[str, str]:
    """The form's ``map-<n>`` choices for the file's columns ("" ignores a column)."""
    try:
        columns = columns_of(path)
    except UnreadableFile:
        return saved_mapping(runtime().sessions, source)  # the preview will say what is wrong
    mapping: dict[str, str] = {}
    for index, column in enumerate(columns):
        value = request.form.get(f"map-{index}")
        if value is None:
            continue
        if value and value not in TARGETS:
            raise PageError(f"map-{index} ({column}): {value[:40]!r} is not a field")
        if value and value in mapping.values():
            raise PageError(f"{value} is mapped from two columns: keep one")
        mapping[column] = value
    return mapping


def init_app(app: Flask) -> None:
    """Register the pages; the preview path takes bodies up to ``dashboard.max_upload_bytes``."""
    app.register_blueprint(blueprint)
    limit = app.extensions["closedloop"].settings.dashboard.max_upload_bytes
    app.extensions.setdefault(UPLOADS, {})["/dashboard/revenue/preview"] = limit
    kick.install(app)

    from connector.app.openapi import error_responses, register

    html = {"200": {"description": "HTML page"}, "400": {"description": "HTML page: the problem"}}
    register(
        {
            "/dashboard/revenue/": {
                "get": {"summary": "Revenue CSV upload form (HTML, login)", "responses": html}
            },
            "/dashboard/revenue/preview": {
                "post": {
                    "summary": "Upload a revenue CSV (multipart: csrf, source, file), preview it",
                    "responses": {**html, **error_responses(401, 413)},
                }
            },
            "/dashboard/revenue/import": {
                "post": {
                    "summary": "Import the previewed revenue CSV (form: csrf, token, map-<n>)",
                    "responses": {**html, **error_responses(401)},
                }
            },
        }
    )
