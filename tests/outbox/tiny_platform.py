"""A tiny ad platform for the delivery engine's tests: a real HTTP server and its adapter.

The emulator dedups on the event key like the real platforms, answers per-item results,
rejects bad items with a code and message, enforces its batch size and one client per request,
refuses a revoked token for the whole request, and injects faults from its ``FaultPlan``. The
adapter talks to it over HTTP with ``requests``, as a real adapter talks to its platform.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

import requests
from werkzeug.wrappers import Request, Response

from connector.errors import PermanentPlatformError, RetryablePlatformError
from platforms.base import (
    Accepted,
    Destination,
    Outcome,
    PlannedConversion,
    Prepared,
    Rejected,
    Skip,
    Wait,
)
from platforms.sandbox_kit import FaultPlan, HttpEmulator

MAX_BATCH = 3
MIN_CLICK_AGE = timedelta(hours=6)


class TinyEmulator(HttpEmulator):
    """``POST /v1/events`` (and ``/v1/events:validate`` for dry runs)."""

    name = "tiny"

    def __init__(self, faults: FaultPlan | None = None, token: str = "good-token") -> None:
        super().__init__(faults)
        self.token = token
        self.accepted: list[dict[str, Any]] = []
        self.received: Counter[str] = Counter()
        self.validated = 0
        self._keys: set[str] = set()
        self._lock = threading.Lock()

    def platform_config(self) -> dict[str, Any]:
        """The settings the adapter needs to reach this server."""
        return {"url": self.url, "token": self.token}

    def app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            body = {"error": {"code": "NOT_ALLOWLISTED", "message": "account not allowlisted"}}
            return _json(body, 403)(environ, start_response)
        events = (request.get_json(silent=True) or {}).get("events") or []
        if not events or len(events) > MAX_BATCH:
            return _json({"error": {"code": "BAD_BATCH", "message": "1..3 events"}}, 400)(
                environ, start_response
            )
        if len({e.get("client") for e in events}) > 1:
            return _json({"error": {"code": "MIXED_CLIENTS", "message": "one client"}}, 400)(
                environ, start_response
            )
        validate_only = request.path.endswith(":validate")
        results = []
        with self._lock:
            for event in events:
                if float(event["value"]) < 0:
                    results.append(
                        {"code": "INVALID_VALUE", "message": "value must not be negative"}
                    )
                    continue
                results.append({"ref": f"ref-{event['key']}"})
                if validate_only:
                    self.validated += 1
                    continue
                self.received[event["key"]] += 1
                if event["key"] not in self._keys:
                    self._keys.add(event["key"])
                    self.accepted.append(event)
        return _json({"results": results})(environ, start_response)


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


@dataclass
class TinySettings:
    """The adapter's config section."""

    url: str
    token: str
    concurrency: int = 1


class TinyDestination(Destination[dict[str, Any]]):
    """Adapter for the tiny platform: one client per request, at most three events."""

    name = "tiny"
    max_batch: ClassVar[int] = MAX_BATCH
    groups_requests: ClassVar[bool] = True

    @property
    def concurrency(self) -> int:
        """Requests the engine may run at once (this adapter sends one request per call)."""
        return self.settings.concurrency

    def setup(self) -> None:
        """Keep-alive connections."""
        self.http = requests.Session()

    def close(self) -> None:
        """Release connections."""
        self.http.close()

    def group_key(self, prepared: Prepared[dict[str, Any]]) -> str:
        """One client per request."""
        return prepared.payload["client"]

    def prepare(
        self, conversion: PlannedConversion, now: datetime
    ) -> Prepared[dict[str, Any]] | Skip | Wait:
        """Skip without a client; wait until a click is six hours old."""
        ids = conversion.identifiers
        if not ids.ga_client_id:
            return Skip("MISSING_CLIENT_ID", "no client id for this visitor")
        if ids.click_time and now - ids.click_time < MIN_CLICK_AGE:
            return Wait(ids.click_time + MIN_CLICK_AGE, "click younger than 6 hours")
        payload = {
            "key": conversion.dedup_key,
            "value": str(conversion.value),
            "client": ids.ga_client_id,
        }
        return Prepared(conversion, payload)

    def validate(self, batch: list[Prepared[dict[str, Any]]]) -> list[Outcome]:  # type: ignore[override]
        """The emulator's validate-only endpoint: checked, nothing stored."""
        return self._post(batch, "/v1/events:validate")

    def send(self, batch: list[Prepared[dict[str, Any]]]) -> list[Outcome]:
        """One POST; 429/5xx retry, 403 stops the platform, item errors are rejections."""
        return self._post(batch, "/v1/events:validate" if self.dry_run else "/v1/events")

    def _post(self, batch: list[Prepared[dict[str, Any]]], path: str) -> list[Outcome]:
        response = self.http.post(
            self.settings.url + path,
            json={"events": [p.payload for p in batch]},
            headers={"Authorization": f"Bearer {self.settings.token}"},
            timeout=self.timeout,
        )
        if response.status_code == 429:
            raise RetryablePlatformError(
                "rate limited",
                platform=self.name,
                code="RATE_LIMITED",
                retry_after=float(response.headers.get("Retry-After", "1")),
            )
        if response.status_code >= 500:
            raise RetryablePlatformError(
                f"server error {response.status_code}",
                platform=self.name,
                code=f"HTTP_{response.status_code}",
            )
        if response.status_code >= 400:
            error = response.json()["error"]
            raise PermanentPlatformError(error["message"], platform=self.name, code=error["code"])
        outcomes: list[Outcome] = []
        for result in response.json()["results"]:
            if "code" in result:
                outcomes.append(Rejected(result["code"], result["message"]))
            else:
                outcomes.append(Accepted(result["ref"]))
        return outcomes


class TinyUngroupedDestination(TinyDestination):
    """The same adapter without request grouping: small claims, many claim/record cycles."""

    groups_requests: ClassVar[bool] = False
