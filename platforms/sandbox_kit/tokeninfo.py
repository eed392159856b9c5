"""Google's ``tokeninfo`` endpoint for access tokens, next to the sandbox token endpoint.

``GET /tokeninfo?access_token=...`` answers what Google's
``https://oauth2.googleapis.com/tokeninfo`` answers: the token's ``scope`` (space-separated),
``exp`` and ``expires_in`` (strings, as Google sends them), ``azp``/``aud`` (the OAuth client)
and ``access_type``; an unknown or expired token is ``400 {"error": "invalid_token",
"error_description": "Invalid Value"}``. Doctor reads the granted scopes from it.
"""

from __future__ import annotations

import json
import time

from werkzeug.wrappers import Request, Response

from platforms.sandbox_kit.oauth import TokenIssuer

TOKENINFO_PATH = "/tokeninfo"


def tokeninfo(issuer: TokenIssuer, request: Request, client_id: str = "") -> Response:
    """Answer one tokeninfo request against ``issuer``'s live tokens."""
    token = request.values.get("access_token", "")
    # The issuer keeps no public lookup; reading its table keeps oauth.py untouched.
    found = issuer._tokens.get(token)
    now = time.time()
    if found is None or found.expires_at < now:
        body = {"error": "invalid_token", "error_description": "Invalid Value"}
        return Response(json.dumps(body), status=400, mimetype="application/json")
    body = {
        "azp": client_id,
        "aud": client_id,
        "scope": " ".join(sorted(found.scopes)),
        "exp": str(int(found.expires_at)),
        "expires_in": str(max(0, int(found.expires_at - now))),
        "access_type": "offline",
    }
    return Response(json.dumps(body), status=200, mimetype="application/json")
