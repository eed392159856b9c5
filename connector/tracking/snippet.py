"""Build /t.js: the snippet source with this install's settings, minified, with an ETag.

Settings go in as JSON with ``<``, ``>``, ``&`` and the JavaScript line separators escaped, so
no configured value (a cookie domain, a form selector) can close the script or inject code.
Minification is done once per collect URL with rjsmin (a small, pure-Python minifier).
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from importlib import resources

import rjsmin

from connector.config import Settings

PLACEHOLDER = "__CLOSEDLOOP_CONFIG__"
CACHE_SECONDS = 3600


@dataclass(frozen=True)
class Script:
    """The served script and its validator."""

    body: bytes
    etag: str


def snippet_config(settings: Settings, base_url: str) -> dict[str, object]:
    """The values the snippet needs from config."""
    tracking = settings.tracking
    config: dict[str, object] = {
        "url": base_url.rstrip("/"),
        "cookie": tracking.visitor_cookie,
        "domain": tracking.cookie_domain,
        "days": tracking.cookie_days,
        "consentGlobal": tracking.consent_global,
        "consentDefault": tracking.consent_default,
        "forms": tracking.form_selector,
    }
    for name in type(settings.platforms).model_fields:  # what each platform's cookies need
        config.update(getattr(settings.platforms, name).snippet_options())
    return {key: value for key, value in config.items() if value is not None}  # unset: falsy


def safe_json(value: object) -> str:
    """JSON that is also safe inside a ``<script>`` and as a JavaScript expression."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=True)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(raw, escaped)
    return text  # ensure_ascii already escaped U+2028/U+2029


@functools.cache
def _source() -> str:
    return resources.files("connector.tracking").joinpath("snippet.js").read_text("utf-8")


@functools.lru_cache(maxsize=16)
def _build(config_json: str) -> Script:
    minified = rjsmin.jsmin(_source(), keep_bang_comments=False)
    body = minified.replace(PLACEHOLDER, config_json).encode("utf-8")
    return Script(body, hashlib.sha256(body).hexdigest()[:32])


def build_script(settings: Settings, base_url: str) -> Script:
    """The script for this install, reached at ``base_url``."""
    return _build(safe_json(snippet_config(settings, base_url)))
