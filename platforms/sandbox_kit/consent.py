"""Google's OAuth authorization (consent) endpoint and its authorization-code grant, locally.

``closedloop auth google`` runs Google's installed-app flow (``google-auth-oauthlib``): the
browser opens the authorization URL, the person consents, Google redirects the browser to a
loopback address with a one-time ``code``, and the flow exchanges that code (with its PKCE
verifier) at the token endpoint for a refresh token. This module plays Google's part of that,
with the rules Google applies to Desktop clients:

* ``redirect_uri`` must be a loopback address over plain HTTP (``http://127.0.0.1:<port>``,
  ``http://[::1]:<port>``, ``http://localhost:<port>``); anything else is Google's
  ``redirect_uri_mismatch`` error page (400), not a redirect;
* an unknown ``client_id`` is ``invalid_client`` (401 page), an unknown scope ``invalid_scope``
  (400 page);
* the person may deny (redirect with ``error=access_denied``) or, with granular consent, untick
  some scopes: the token then carries only the granted ones;
* a code is single-use, bound to its client and redirect URI, and checked against the PKCE
  ``code_challenge`` (S256) sent with the authorization request (``invalid_grant``).

No human is in the loop: :attr:`ConsentServer.decision` scripts the person's answer, so a test's
"browser" only has to follow the redirect.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from werkzeug.wrappers import Request, Response

from platforms.sandbox_kit.oauth import TokenIssuer

AUTH_PATH = "/o/oauth2/auth"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    scopes: frozenset[str]
    challenge: str | None
    method: str


@dataclass
class ConsentServer:
    """The consent screen and the ``authorization_code`` grant, issuing through ``issuer``.

    ``known_scopes`` are the scopes Google would recognise; ``decision`` is the scripted
    person: ``"approve"`` (all requested scopes), ``"deny"``, or a set of scopes to keep.
    """

    issuer: TokenIssuer
    known_scopes: frozenset[str]
    decision: str | set[str] = "approve"
    _clients: dict[str, str] = field(default_factory=dict)
    _codes: dict[str, _Code] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    #: Every authorization request seen (query parameters), oldest first.
    requests: list[dict[str, str]] = field(default_factory=list)
    #: Refresh tokens issued by the code grant, with the scopes they carry.
    refresh_tokens: dict[str, frozenset[str]] = field(default_factory=dict)

    def add_client(self, client_id: str, client_secret: str) -> None:
        """Register a Desktop OAuth client (what the admin creates in Google Cloud console)."""
        self._clients[client_id] = client_secret

    # -- the browser's side -----------------------------------------------------------------
    def authorize(self, request: Request) -> Response:
        """``GET /o/oauth2/auth?...``: consent, then a 302 to the loopback redirect URI."""
        args = {k: request.args[k] for k in request.args}
        self.requests.append(args)
        client_id = args.get("client_id", "")
        if client_id not in self._clients:
            return _page(401, "invalid_client", "The OAuth client was not found.")
        redirect_uri = args.get("redirect_uri", "")
        if not _is_loopback(redirect_uri):
            return _page(
                400,
                "redirect_uri_mismatch",
                "You can't sign in to this app because it doesn't comply with Google's OAuth "
                f"2.0 policy. redirect_uri={redirect_uri}",
            )
        if args.get("response_type") != "code":
            return _page(400, "unsupported_response_type", "response_type must be code")
        requested = frozenset(args.get("scope", "").split())
        if not requested:
            return _page(400, "invalid_request", "Missing required parameter: scope")
        if unknown := sorted(requested - self.known_scopes):
            return _page(400, "invalid_scope", f"Some requested scopes were invalid: {unknown}")
        method = args.get("code_challenge_method", "plain")
        if args.get("code_challenge") and method not in ("S256", "plain"):
            return _page(400, "invalid_request", "Invalid code_challenge_method")
        state = {"state": args["state"]} if "state" in args else {}
        if self.decision == "deny":
            return _redirect(redirect_uri, {"error": "access_denied", **state})
        granted = requested if self.decision == "approve" else requested & set(self.decision)
        code = "4/sandbox-" + secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = _Code(
                client_id, redirect_uri, granted, args.get("code_challenge"), method
            )
        return _redirect(redirect_uri, {"code": code, "scope": " ".join(sorted(granted)), **state})

    # -- the token endpoint's side ------------------------------------------------------------
    def exchange(self, request: Request) -> Response:
        """``grant_type=authorization_code`` at the token endpoint (form-encoded POST)."""
        form = request.form
        with self._lock:
            grant = self._codes.pop(form.get("code", ""), None)
        if grant is None:
            return _error(400, "invalid_grant", "Malformed auth code.")
        client_id, client_secret = _client_credentials(request)
        secret = self._clients.get(client_id or "")
        if client_id != grant.client_id or secret is None or secret != client_secret:
            return _error(401, "invalid_client", "Unauthorized")
        if form.get("redirect_uri") != grant.redirect_uri:
            return _error(400, "redirect_uri_mismatch", "Bad Request")
        if grant.challenge is not None and _challenge(
            form.get("code_verifier", ""), grant.method
        ) != (grant.challenge):
            return _error(400, "invalid_grant", "Invalid code verifier.")
        refresh_token = "1//sandbox-" + secrets.token_urlsafe(32)
        self.issuer.add_refresh_token(refresh_token, grant.client_id, secret, set(grant.scopes))
        self.refresh_tokens[refresh_token] = grant.scopes
        access = self.issuer.mint(set(grant.scopes))
        body = {
            "access_token": access,
            "expires_in": self.issuer.token_seconds,
            "refresh_token": refresh_token,
            "scope": " ".join(sorted(grant.scopes)),
            "token_type": "Bearer",
        }
        return Response(json.dumps(body), status=200, mimetype="application/json")


def _client_credentials(request: Request) -> tuple[str | None, str | None]:
    """The client's ID and secret, from HTTP Basic or the form: Google takes either.

    HTTP Basic (RFC 6749 2.3.1) is what requests-oauthlib sends when it has a client secret.
    """
    auth = request.authorization
    if auth is not None and auth.type == "basic":
        return auth.username, auth.password
    return request.form.get("client_id"), request.form.get("client_secret")


def _is_loopback(uri: str) -> bool:
    parts = urlsplit(uri)
    host = (parts.hostname or "").lower()
    return parts.scheme == "http" and (host in LOOPBACK_HOSTS or f"[{host}]" in LOOPBACK_HOSTS)


def _challenge(verifier: str, method: str) -> str:
    if method == "plain":
        return verifier
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _redirect(uri: str, params: dict[str, str]) -> Response:
    sep = "&" if urlsplit(uri).query else "?"
    return Response("", status=302, headers={"Location": f"{uri}{sep}{urlencode(params)}"})


def _page(status: int, error: str, description: str) -> Response:
    """Google shows these on its own page (no redirect): the admin sees them in the browser."""
    return Response(
        f"Error {status}: {error}\n{description}\n", status=status, mimetype="text/plain"
    )


def _error(status: int, error: str, description: str) -> Response:
    body = {"error": error, "error_description": description}
    return Response(json.dumps(body), status=status, mimetype="application/json")
