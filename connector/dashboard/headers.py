"""Response headers for dashboard pages and report JSON: no framing, no foreign code, no leaks.

The dashboard shows revenue and runs actions behind a login, so it must not be framed by
another site (clickjacking), must not run scripts or styles it did not ship (the policy would
stop an injected one even if escaping ever failed), must not send its URLs as a referrer, and
must not be kept in a shared or back-button cache after logout.
"""

from __future__ import annotations

from flask import Flask, Response, request

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
#: Where the headers apply: the dashboard and the report API (not the tracking endpoints,
#: which other sites load).
PREFIXES = ("/dashboard", "/api/reports")


def security_headers(response: Response) -> Response:
    """Add the headers to a dashboard or report response; pages and JSON are never cached."""
    if request.path.startswith(PREFIXES):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.path.startswith("/dashboard/static/"):
            response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Send the headers with every matching response, error answers included."""
    app.after_request(security_headers)
