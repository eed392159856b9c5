"""The HubSpot SDK, set up from config, with throttling, timeouts and bounded retries.

Every API object is built once (the SDK makes a new connection pool per ``*_api`` access) with
``host`` set from ``platforms.hubspot.base_url``. Calls go through ``HubSpotClient.call``,
which keeps a big sync under HubSpot's limits instead of bouncing off them: a rolling
10-second budget for every request and 5 requests/s for search.

The pull's calls go through ``call_json`` instead: the SDK still builds, authenticates and
sends the request, but its answer is read as JSON (orjson) rather than turned into SDK models.
Building models was most of a pull's CPU (the SDK parses every ``createdAt``/``updatedAt``
with dateutil, about 6 parses per deal), several times the cost of the request itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import hubspot
import hubspot.crm.associations.v4 as associations_v4
import hubspot.crm.contacts as contacts_api
import hubspot.crm.deals as deals_api
import hubspot.crm.pipelines as pipelines_api
import hubspot.crm.properties as properties_api
import orjson
import urllib3
from urllib3.util.retry import Retry

from connector.errors import PermanentSourceError, RetryableSourceError
from platforms.hubspot.errors import describe, error_body, rate_limit_wait
from platforms.hubspot.settings import HubSpotSettings

log = logging.getLogger(__name__)

T = TypeVar("T")

SEARCH_PER_SECOND = 5
_API_ERRORS: tuple[type[Exception], ...] = (
    associations_v4.ApiException,
    contacts_api.ApiException,
    deals_api.ApiException,
    pipelines_api.ApiException,
    properties_api.ApiException,
)


class HubSpotApiError(PermanentSourceError):
    """HubSpot refused a request for a reason retrying won't fix (4xx other than 401/403/429)."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(describe(status, body))
        self.status = status
        self.body = body
        self.category = body.get("category")


class Throttle:
    """Sliding windows (limit per seconds); ``acquire`` waits until a request fits in all.

    ``clock`` and ``sleep`` are injectable so tests run bursts without real waiting.
    """

    def __init__(
        self,
        limit: int,
        seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        margin: float = 0.0,
    ) -> None:
        self.limit = limit
        self.seconds = seconds + margin
        self.clock = clock
        self.sleep = sleep
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()
        self.waited = 0.0

    def acquire(self) -> None:
        """Block until one more request fits; then count it."""
        while True:
            with self._lock:
                now = self.clock()
                while self._sent and self._sent[0] <= now - self.seconds:
                    self._sent.popleft()
                if len(self._sent) < self.limit:
                    self._sent.append(now)
                    return
                wait = self._sent[0] + self.seconds - now
            self.waited += wait
            self.sleep(wait)

    def pause(self, seconds: float) -> None:
        """Back off (after a 429) without counting a request."""
        self.waited += seconds
        self.sleep(seconds)


def sdk_config(api: Any) -> Any:
    """The configuration an SDK API object already holds, for the request models built for it.

    A model built without one copies a default ``Configuration`` (whose logger set-up clears
    every logger's cache): about a millisecond per request, paid once per page's request.
    """
    return api.api_client.configuration


def sdk_inputs(model: Callable[..., T], api: Any, ids: Iterable[str]) -> list[T]:
    """One SDK input object per ID, all sharing the API's configuration.

    Built without one, every SDK model copies a default ``Configuration`` of its own: 15 µs
    apiece, a tenth of a pull's CPU when each page reads hundreds of contacts.
    """
    config = sdk_config(api)
    return [model(id=i, local_vars_configuration=config) for i in ids]


class HubSpotClient:
    """SDK API objects plus ``call`` (throttle, timeout, classify, retry)."""

    def __init__(
        self,
        settings: HubSpotSettings,
        *,
        timeout: float = 30.0,
        max_attempts: int = 4,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        margin: float = 0.05,
    ) -> None:
        if settings.access_token is None:
            raise PermanentSourceError("platforms.hubspot.access_token is not set")
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.sleep = sleep
        self.requests_made = 0
        self.requests_by_endpoint: Counter[str] = Counter()
        self._count_lock = threading.Lock()
        self.throttle = Throttle(
            settings.requests_per_10s, 10.0, clock=clock, sleep=sleep, margin=margin
        )
        self.search_throttle = Throttle(
            SEARCH_PER_SECOND, 1.0, clock=clock, sleep=sleep, margin=margin
        )
        # Retries are ours (bounded, throttled, classified), not urllib3's hidden ones.
        sdk = hubspot.HubSpot(
            access_token=settings.access_token.get_secret_value(),
            host=settings.base_url.rstrip("/"),
            retry=Retry(total=0, raise_on_status=False),
        )
        crm = sdk.crm
        self.deals_search = crm.deals.search_api
        self.deals_batch = crm.deals.batch_api
        self.contacts_search = crm.contacts.search_api
        self.contacts_basic = crm.contacts.basic_api
        self.contacts_batch = crm.contacts.batch_api
        self.associations_batch = crm.associations.v4.batch_api
        self.pipelines_api = crm.pipelines.pipelines_api
        self.properties_core = crm.properties.core_api
        self.properties_groups = crm.properties.groups_api

    def call(self, endpoint: str, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one SDK call under the throttle, retrying 429/5xx/network faults a few times.

        ``endpoint`` names the call for counting ("search", "associations", ...); an endpoint
        ending in ``search`` also takes the 5/s search budget.
        """
        return self._send(endpoint, method, args, kwargs, None)

    def call_json(
        self, endpoint: str, method: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> dict[str, Any]:
        """``call``, but the answer is HubSpot's JSON body as dicts, with no SDK models built.

        The SDK's ``_preload_content=False`` hands back the raw HTTP response (errors are still
        raised as the SDK's ``ApiException``s, so classification and retries are unchanged);
        the body is read inside the retry loop, so a connection dropped mid-body is retried too.
        """
        kwargs["_preload_content"] = False
        return self._send(endpoint, method, args, kwargs, _json_body)

    def _send(
        self,
        endpoint: str,
        method: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        read: Callable[[Any], Any] | None,
    ) -> Any:
        retry_after = 1.0
        reason = ""
        for attempt in range(1, self.max_attempts + 1):
            if endpoint.endswith("search"):
                self.search_throttle.acquire()
            self.throttle.acquire()
            with self._count_lock:
                self.requests_made += 1
                self.requests_by_endpoint[endpoint] += 1
            try:
                answer = method(*args, _request_timeout=self.timeout, **kwargs)
                return answer if read is None else read(answer)
            except _API_ERRORS as exc:
                status = int(getattr(exc, "status", 0) or 0)
                body = error_body(getattr(exc, "body", None))
                reason = describe(status, body)
                if status in (401, 403):
                    raise PermanentSourceError(
                        f"HubSpot rejected the access token ({reason}); check "
                        "platforms.hubspot.access_token and the private app's scopes"
                    ) from None
                if status == 429:
                    retry_after = rate_limit_wait(body, getattr(exc, "headers", None))
                    if str(body.get("policyName", "")).upper() == "DAILY":
                        log.warning("hubspot %s: daily API limit reached: %s", endpoint, reason)
                        raise RetryableSourceError(
                            f"{reason}; HubSpot's daily API limit is used up, the next run "
                            "carries on from here",
                            retry_after=retry_after,
                        ) from None
                elif status >= 500 or status == 0:
                    retry_after = min(2.0 ** (attempt - 1), 30.0)
                else:
                    raise HubSpotApiError(status, body) from None
            except urllib3.exceptions.HTTPError as exc:
                reason = f"HubSpot unreachable: {type(exc).__name__}"
                retry_after = min(2.0 ** (attempt - 1), 30.0)
            except orjson.JSONDecodeError:  # a cut or garbled 2xx body: as a network fault
                reason = "HubSpot answered with a body that is not JSON"
                retry_after = min(2.0 ** (attempt - 1), 30.0)
            # A retried 429/5xx is routine (other processes share the portal's budget); only
            # the last attempt is worth a warning.
            log.log(
                logging.WARNING if attempt >= self.max_attempts else logging.INFO,
                "hubspot %s attempt %d/%d failed: %s",
                endpoint,
                attempt,
                self.max_attempts,
                reason,
            )
            if attempt < self.max_attempts:
                self.throttle.pause(retry_after)
        raise RetryableSourceError(
            f"{reason}; gave up after {self.max_attempts} attempts", retry_after=retry_after
        )


def _json_body(response: Any) -> dict[str, Any]:
    """The body of a raw (not preloaded) urllib3 response as JSON; the connection goes back."""
    try:
        body = response.data
    finally:
        response.release_conn()
    answer = orjson.loads(body) if body else {}
    return answer if isinstance(answer, dict) else {"results": answer}
