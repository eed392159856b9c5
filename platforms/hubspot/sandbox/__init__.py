"""A strict local emulator of HubSpot CRM (v3 objects, v4 associations, pipelines, properties).

The unmodified ``hubspot-api-client`` talks to it with only its host changed. It enforces the
documented limits (search: 5 filter groups, 25 filters, limit 200, 10,000 results per query,
5 requests/s; batches of 100; v4 association reads of 1,000; a rolling 10-second budget per
token) and answers with HubSpot's error bodies. Seeding is plain dict work, so a 100k-deal
benchmark is cheap to set up.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from werkzeug.wrappers import Request, Response

from platforms.hubspot.sandbox.lifecycle import LIFECYCLE_DATE_PROPERTIES, LifecycleRules
from platforms.hubspot.sandbox.search import SortedIndex, indexed_search
from platforms.hubspot.sandbox.token_info import (
    MISSING_SCOPES_MESSAGE,
    SCHEMA_WRITE,
    TOKEN_INFO_PATH,
    TokenScopes,
    missing_scope_errors,
)
from platforms.hubspot.webhook_signature import v3_headers
from platforms.sandbox_kit import Fault, FaultPlan, HttpEmulator

SEARCH_MAX_LIMIT = 200
SEARCH_MAX_GROUPS = 5
SEARCH_MAX_FILTERS = 25
SEARCH_MAX_RESULTS = 10_000
BATCH_MAX = 100
ASSOCIATIONS_BATCH_MAX = 1_000
DEAL_TO_CONTACT_TYPE_ID = 3

OPERATORS = {"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "IN", "NOT_IN", "HAS_PROPERTY"}
OPERATORS |= {"NOT_HAS_PROPERTY", "BETWEEN", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}

#: Deal and contact properties HubSpot defines out of the box: name -> (type, group).
DEAL_PROPERTIES: dict[str, str] = {
    "dealname": "string",
    "amount": "number",
    "deal_currency_code": "enumeration",
    "closedate": "datetime",
    "createdate": "datetime",
    "dealstage": "enumeration",
    "pipeline": "enumeration",
    "hs_is_closed_won": "bool",
    "hs_is_closed": "bool",
    "hs_lastmodifieddate": "datetime",
    "hs_object_id": "number",
    "hubspot_owner_id": "enumeration",
}
CONTACT_PROPERTIES: dict[str, tuple[str, str]] = {
    "email": ("string", "contactinformation"),
    "firstname": ("string", "contactinformation"),
    "lastname": ("string", "contactinformation"),
    "phone": ("string", "contactinformation"),
    "lifecyclestage": ("enumeration", "contactinformation"),
    "hubspotutk": ("string", "analyticsinformation"),
    "hs_google_click_id": ("string", "analyticsinformation"),
    "hs_facebook_click_id": ("string", "analyticsinformation"),
    "createdate": ("datetime", "contactinformation"),
    "lastmodifieddate": ("datetime", "contactinformation"),
    "hs_object_id": ("number", "contactinformation"),
    **LIFECYCLE_DATE_PROPERTIES,  # hs_lifecyclestage_<stage>_date, stamped on stage changes
}
READ_ONLY = {"hs_object_id", "createdate", "lastmodifieddate", "hs_lastmodifieddate"}
CONTACT_DEFAULT_OUTPUT = ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate")
CONTACT_DEFAULT_OUTPUT += ("lastname",)
DEAL_DEFAULT_OUTPUT = ("amount", "closedate", "createdate", "dealname", "dealstage")
DEAL_DEFAULT_OUTPUT += ("hs_lastmodifieddate", "hs_object_id", "pipeline")
PROPERTY_TYPES = {"string", "number", "date", "datetime", "enumeration", "bool"}
FIELD_TYPES = {"textarea", "text", "date", "file", "number", "select", "radio", "checkbox"}
FIELD_TYPES |= {"booleancheckbox", "calculation_equation", "html", "phonenumber"}

#: The deal property HubSpot sets when a deal enters a stage (one per stage ID, custom ones
#: too); earlier stages keep theirs, re-entering a stage stamps it again.
STAGE_ENTERED = "hs_v2_date_entered_{stage}"

#: HubSpot's default deal pipeline: (stage id, label, probability, is_closed).
DEFAULT_STAGES: tuple[tuple[str, str, float, bool], ...] = (
    ("appointmentscheduled", "Appointment Scheduled", 0.2, False),
    ("qualifiedtobuy", "Qualified To Buy", 0.4, False),
    ("presentationscheduled", "Presentation Scheduled", 0.6, False),
    ("decisionmakerboughtin", "Decision Maker Bought-In", 0.8, False),
    ("contractsent", "Contract Sent", 0.9, False),
    ("closedwon", "Closed Won", 1.0, True),
    ("closedlost", "Closed Lost", 0.0, True),
)


class HubSpotError(Exception):
    """An error answer in HubSpot's shape; raised inside handlers, rendered by ``app``."""

    def __init__(self, status: int, category: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {
            "status": "error",
            "message": message,
            "correlationId": str(uuid.uuid4()),
            "category": category,
            **extra,
        }


def iso(moment: datetime) -> str:
    """HubSpot's timestamp format: UTC, milliseconds, ``Z``."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


@functools.lru_cache(maxsize=1 << 18)
def to_epoch_ms(value: str) -> float | None:
    """Epoch milliseconds from HubSpot's date forms (epoch-ms digits, ISO 8601, YYYY-MM-DD)."""
    text = value.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return float(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp() * 1000


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json", headers=headers)


class _Window:
    """Requests accepted in a rolling window, under a lock."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self.times: deque[float] = deque()

    def admit(self, now: float) -> bool:
        while self.times and self.times[0] <= now - self.seconds:
            self.times.popleft()
        if len(self.times) >= self.limit:
            return False
        self.times.append(now)
        return True

    def remaining(self) -> int:
        return max(0, self.limit - len(self.times))


#: Search answers an object store keeps (oldest dropped first); see ``_ObjectStore.search``.
SEARCH_CACHE_SIZE = 8


class _ObjectStore:
    """One CRM object type: records as plain dicts, searchable like HubSpot's search index."""

    def __init__(self, kind: str, types: dict[str, str], default_output: Sequence[str]) -> None:
        self.kind = kind
        self.types = types
        self.default_output = tuple(default_output)
        self.records: dict[str, dict[str, str | None]] = {}
        self.created: dict[str, str] = {}
        self.updated: dict[str, str] = {}
        self.version = 0
        self._cache: dict[str, Sequence[str]] = {}
        self._indexes: dict[str, SortedIndex] = {}

    def touch(self) -> None:
        self.version += 1
        self._cache.clear()
        self._indexes.clear()

    def sorted_index(self, name: str) -> SortedIndex:
        """The records holding ``name`` in ascending search order (until the next change)."""
        index = self._indexes.get(name)
        if index is None:
            index = self._indexes[name] = SortedIndex(self.records, name, self._comparable)
        return index

    def public(self, record_id: str, properties: Sequence[str] | None) -> dict[str, Any]:
        values = self.records[record_id]
        names = list(properties) if properties else list(self.default_output)
        names += [n for n in ("hs_object_id", "createdate") if n not in names]
        modified = "hs_lastmodifieddate" if self.kind == "deals" else "lastmodifieddate"
        if modified not in names:
            names.append(modified)
        return {
            "id": record_id,
            "properties": {n: values.get(n) for n in names},
            "createdAt": self.created[record_id],
            "updatedAt": self.updated[record_id],
            "archived": False,
        }

    # -- search --------------------------------------------------------------------------------
    def search(
        self, groups: list[list[dict[str, Any]]], sorts: list[tuple[str, bool]]
    ) -> Sequence[str]:
        key = json.dumps([groups, sorts], sort_keys=True)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        ids = indexed_search(
            groups, sorts, self.sorted_index, self._comparable, self._matches, self.records
        )
        if ids is None:
            ids = self.scan(groups, sorts)
        # Only the latest few answers: a pull's pages share one query (``after`` pages it),
        # while a keyset pull makes a new one per restart, each holding every later ID; kept
        # all, 600,000 contacts grew the sandbox to gigabytes (O(n^2) IDs held).
        while len(self._cache) >= SEARCH_CACHE_SIZE:
            del self._cache[next(iter(self._cache))]
        self._cache[key] = ids
        return ids

    def scan(self, groups: list[list[dict[str, Any]]], sorts: list[tuple[str, bool]]) -> list[str]:
        """Every record tested against the filters, then sorted: the reference answer."""
        ids = [i for i, rec in self.records.items() if not groups or self._any(groups, rec)]
        ids.sort(key=int)
        for name, descending in reversed(sorts):
            present = [i for i in ids if self.records[i].get(name) not in (None, "")]
            missing = [i for i in ids if self.records[i].get(name) in (None, "")]
            present.sort(
                key=lambda i, n=name: self._sort_key(n, self.records[i][n]), reverse=descending
            )
            ids = present + missing
        return ids

    def _any(self, groups: list[list[dict[str, Any]]], record: dict[str, str | None]) -> bool:
        return any(all(self._matches(f, record) for f in group) for group in groups)

    def _sort_key(self, name: str, value: str | None) -> Any:
        kind = self.types.get(name, "string")
        if value is None:
            return (1, "")
        if kind in ("datetime", "date"):
            return (0, to_epoch_ms(value) or 0.0)
        if kind == "number":
            try:
                return (0, float(value))
            except ValueError:
                return (0, 0.0)
        return (0, value.lower())

    def _comparable(self, name: str, value: str | None) -> Any:
        if value is None:
            return None
        kind = self.types.get(name, "string")
        if kind in ("datetime", "date"):
            return to_epoch_ms(str(value))
        if kind == "number":
            try:
                return float(value)
            except ValueError:
                return None
        return str(value).lower()

    def _matches(self, flt: dict[str, Any], record: dict[str, str | None]) -> bool:
        name = flt["propertyName"]
        op = flt["operator"]
        raw = record.get(name)
        has = raw not in (None, "")
        if op == "HAS_PROPERTY":
            return has
        if op == "NOT_HAS_PROPERTY":
            return not has
        if op == "NEQ":
            return not has or self._comparable(name, raw) != self._comparable(
                name, flt.get("value")
            )
        if not has:
            return op == "NOT_IN"
        actual = self._comparable(name, raw)
        if op in ("IN", "NOT_IN"):
            options = {self._comparable(name, v) for v in flt.get("values") or []}
            return (actual in options) == (op == "IN")
        if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            token = str(flt.get("value", "")).lower().strip("*")
            return (token in str(raw).lower()) == (op == "CONTAINS_TOKEN")
        if op == "BETWEEN":
            low = self._comparable(name, flt.get("value"))
            high = self._comparable(name, flt.get("highValue"))
            return None not in (actual, low, high) and low <= actual <= high
        wanted = self._comparable(name, flt.get("value"))
        if actual is None or wanted is None:
            return False
        if op == "EQ":
            return actual == wanted
        try:
            return {
                "GT": actual > wanted,
                "GTE": actual >= wanted,
                "LT": actual < wanted,
                "LTE": actual <= wanted,
            }[op]
        except TypeError:
            return False


Route = tuple[str, re.Pattern[str], str, Callable[..., Response]]


class HubSpotSandbox(HttpEmulator):
    """HubSpot CRM on localhost for the SDK, the demo, the tests and the benchmark."""

    name = "hubspot"

    def __init__(
        self,
        faults: FaultPlan | None = None,
        *,
        access_token: str = "pat-na1-sandbox-token",
        client_secret: str = "sandbox-client-secret",
        requests_per_10s: int = 100,
        search_per_second: int = 5,
        requests_per_day: int = 250_000,
        now: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] | None = None,
        portal_id: int = 1234567,
        search_lag: timedelta | None = None,
    ) -> None:
        super().__init__(faults)
        self.access_token = access_token
        self.client_secret = client_secret
        self.portal_id = portal_id
        #: HubSpot's search index trails writes by a few seconds; objects younger than this
        #: (by ``now``) are invisible to search, so "search, then create" can meet a 409.
        self.search_lag = search_lag
        self.now = now or (lambda: datetime.now(UTC))
        self.monotonic = monotonic or time.monotonic
        self.requests_by_endpoint: Counter[str] = Counter()
        self.accepted: list[dict[str, Any]] = []
        self.rejected: list[dict[str, Any]] = []
        self._lock = threading.RLock()
        self._rolling = _Window(requests_per_10s, 10.0)
        self._secondly_search = _Window(search_per_second, 1.0)
        #: Private apps' daily budget (250k on Free/Starter), reset at midnight by ``now``
        #: (HubSpot resets at midnight in the account's time zone; the sandbox's is UTC).
        self.requests_per_day = requests_per_day
        self.daily_refused = 0
        self._day: date | None = None
        self._used_today = 0
        self._ids = itertools.count(1001)
        self._deals = _ObjectStore("deals", dict(DEAL_PROPERTIES), DEAL_DEFAULT_OUTPUT)
        self._contacts = _ObjectStore(
            "contacts", {k: t for k, (t, _) in CONTACT_PROPERTIES.items()}, CONTACT_DEFAULT_OUTPUT
        )
        self.deal_contacts: dict[str, list[str]] = {}
        self._emails: dict[str, str] = {}  # lower-cased email -> contact ID (HubSpot: unique)
        self.pipelines: dict[str, dict[str, Any]] = {}
        self.property_groups: dict[str, dict[str, Any]] = {}
        self.contact_properties: dict[str, dict[str, Any]] = {}
        for group, label in (
            ("contactinformation", "Contact information"),
            ("analyticsinformation", "Web analytics history"),
        ):
            self._add_group(group, label)
        for prop, (kind, group) in CONTACT_PROPERTIES.items():
            self._add_contact_property(prop, kind, group, hubspot_defined=True)
        self.add_pipeline("default", "Sales Pipeline", DEFAULT_STAGES)
        #: Lifecycle stages in order; writes to ``lifecyclestage`` follow HubSpot's rules.
        self.lifecycle = LifecycleRules()
        #: The private app's scopes, answered by the token-info endpoint.
        self.token_scopes = TokenScopes(hub_id=portal_id)
        self._routes: list[Route] = self._build_routes()
        from platforms.hubspot.sandbox.tokens import HubSpotTokens

        #: Token metadata (private-app and OAuth), for ``closedloop auth hubspot``.
        self.tokens = HubSpotTokens(self)

    def start(self) -> HubSpotSandbox:
        """Bind a free port and serve in the background."""
        super().start()
        return self

    def __enter__(self) -> HubSpotSandbox:
        return self.start()

    # -- inspection ----------------------------------------------------------------------------
    @property
    def deals(self) -> dict[str, dict[str, str | None]]:
        """Deal ID -> properties (live; do not mutate, use ``update_deal``)."""
        return self._deals.records

    @property
    def contacts(self) -> dict[str, dict[str, str | None]]:
        """Contact ID -> properties (live; do not mutate)."""
        return self._contacts.records

    def platform_config(self) -> dict[str, Any]:
        """The ``platforms.hubspot`` config section pointing at this sandbox."""
        return {
            "enabled": True,
            "access_token": self.access_token,
            "base_url": self.url,
            "client_secret": self.client_secret,
            "requests_per_10s": self._rolling.limit,
        }

    def sign_webhook(self, method: str, uri: str, body: str, timestamp_ms: int) -> dict[str, str]:
        """HubSpot's v3 signature headers for a webhook request to ``uri``."""
        return v3_headers(self.client_secret, method, uri, body, timestamp_ms)

    # -- seeding -------------------------------------------------------------------------------
    def add_pipeline(
        self,
        pipeline_id: str,
        label: str,
        stages: Iterable[tuple[str, str, float, bool]],
        display_order: int | None = None,
    ) -> None:
        """Add or replace a deal pipeline; stages are (id, label, probability, is_closed)."""
        stamp = iso(self.now())
        self.pipelines[pipeline_id] = {
            "id": pipeline_id,
            "label": label,
            "displayOrder": len(self.pipelines) if display_order is None else display_order,
            "archived": False,
            "createdAt": stamp,
            "updatedAt": stamp,
            "stages": [
                {
                    "id": stage_id,
                    "label": stage_label,
                    "displayOrder": order,
                    "metadata": {"probability": str(probability), "isClosed": str(closed).lower()},
                    "archived": False,
                    "createdAt": stamp,
                    "updatedAt": stamp,
                    "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
                }
                for order, (stage_id, stage_label, probability, closed) in enumerate(stages)
            ],
        }

    def add_contact_property(
        self, name: str, kind: str = "string", group: str = "contactinformation"
    ) -> None:
        """Define a custom contact property (as if created in HubSpot's UI)."""
        with self._lock:
            self._add_contact_property(name, kind, group, hubspot_defined=False)

    def add_contact(self, properties: dict[str, Any]) -> str:
        """Seed a contact; unknown properties are defined on the fly. Returns its ID."""
        with self._lock:
            for name in properties:
                if name not in self.contact_properties:
                    self._add_contact_property(name, "string", "contactinformation", False)
            return self._create_contact({k: _str(v) for k, v in properties.items()})

    def update_contact(self, contact_id: str, **properties: Any) -> None:
        """Change a contact as a HubSpot user would (lifecycle rules apply).

        Bumps ``lastmodifieddate``. Emails change through the API, which keeps the email index.
        """
        with self._lock:
            if "email" in properties:
                raise ValueError("change emails with PATCH through the API, not update_contact()")
            for name in properties:
                if name not in self.contact_properties:
                    self._add_contact_property(name, "string", "contactinformation", False)
            record = self._contacts.records[contact_id]
            stamp = iso(self.now())
            values = {k: _str(v) for k, v in properties.items()}
            record.update(self.lifecycle.apply(record, values, stamp))
            record["lastmodifieddate"] = stamp
            self._contacts.updated[contact_id] = stamp
            self._contacts.touch()

    def add_lifecycle_stage(
        self, stage_id: str, *, before: str | None = None, date_property: str | None = None
    ) -> str:
        """A custom lifecycle stage, as created in HubSpot's settings; its date property's name.

        HubSpot creates a date-entered property for every stage, custom ones included.
        """
        with self._lock:
            prop = date_property or f"hs_v2_date_entered_{stage_id}"
            self.lifecycle.add_stage(stage_id, prop, before)
            self._add_contact_property(prop, "datetime", "contactinformation", True)
            return prop

    def add_deal(self, properties: dict[str, Any], contact_ids: Iterable[str] = ()) -> str:
        """Seed a deal associated with ``contact_ids``. Returns its ID."""
        with self._lock:
            deal_id = str(next(self._ids))
            stamp = iso(self.now())
            values: dict[str, str | None] = {k: _str(v) for k, v in properties.items()}
            values.setdefault("pipeline", "default")
            pipeline = self.pipelines.get(values["pipeline"] or "")
            if pipeline is None:
                raise ValueError(f"no deal pipeline {values['pipeline']!r}; add_pipeline() first")
            values.setdefault("dealstage", pipeline["stages"][0]["id"])
            values.setdefault("createdate", stamp)
            values["hs_lastmodifieddate"] = stamp
            values["hs_object_id"] = deal_id
            values.setdefault(STAGE_ENTERED.format(stage=values["dealstage"]), stamp)
            self._derive_closed(values)
            self._deals.records[deal_id] = values
            self._deals.created[deal_id] = values["createdate"] or stamp
            self._deals.updated[deal_id] = stamp
            self.deal_contacts[deal_id] = [str(c) for c in contact_ids]
            self._deals.touch()
            return deal_id

    def update_deal(self, deal_id: str, **properties: Any) -> None:
        """Change a deal as a HubSpot user would; bumps ``hs_lastmodifieddate``."""
        with self._lock:
            values = self._deals.records[deal_id]
            before = values.get("dealstage")
            values.update({k: _str(v) for k, v in properties.items()})
            stamp = iso(self.now())
            entered = STAGE_ENTERED.format(stage=values.get("dealstage"))
            if values.get("dealstage") != before and entered not in properties:
                values[entered] = stamp  # HubSpot stamps the stage's date-entered property
            values["hs_lastmodifieddate"] = stamp
            self._derive_closed(values)
            self._deals.updated[deal_id] = stamp
            self._deals.touch()

    def associate(self, deal_id: str, contact_id: str) -> None:
        """Associate a contact with a deal."""
        with self._lock:
            self.deal_contacts.setdefault(deal_id, []).append(contact_id)

    def _derive_closed(self, values: dict[str, str | None]) -> None:
        pipeline = self.pipelines.get(values.get("pipeline") or "")
        stage = next(
            (s for s in (pipeline or {}).get("stages", []) if s["id"] == values.get("dealstage")),
            None,
        )
        if stage is None:
            return
        closed = stage["metadata"]["isClosed"] == "true"
        won = closed and float(stage["metadata"]["probability"]) >= 1.0
        # The shared literals, not a new string per deal (a million deals held two million).
        values["hs_is_closed"] = "true" if closed else "false"
        values["hs_is_closed_won"] = "true" if won else "false"

    def _add_group(self, name: str, label: str, display_order: int = -1) -> dict[str, Any]:
        group = {"name": name, "label": label, "displayOrder": display_order, "archived": False}
        self.property_groups[name] = group
        return group

    def _add_contact_property(
        self, name: str, kind: str, group: str, hubspot_defined: bool
    ) -> dict[str, Any]:
        stamp = iso(self.now())
        prop = {
            "name": name,
            "label": name.replace("_", " ").title(),
            "type": kind,
            "fieldType": {"number": "number", "datetime": "date", "date": "date"}.get(kind, "text"),
            "description": "",
            "groupName": group,
            "options": [],
            "displayOrder": -1,
            "calculated": False,
            "externalOptions": False,
            "hasUniqueValue": False,
            "hidden": False,
            "hubspotDefined": hubspot_defined,
            "formField": True,
            "archived": False,
            "createdAt": stamp,
            "updatedAt": stamp,
            "modificationMetadata": {
                "archivable": True,
                "readOnlyDefinition": hubspot_defined,
                "readOnlyValue": name in READ_ONLY,
            },
        }
        self.contact_properties[name] = prop
        self._contacts.types[name] = kind
        return prop

    def _create_contact(self, values: dict[str, str | None]) -> str:
        contact_id = str(next(self._ids))
        stamp = iso(self.now())
        values = dict(values)
        values.setdefault("createdate", stamp)
        values = self.lifecycle.apply({}, values, values["createdate"] or stamp)
        values["lastmodifieddate"] = stamp
        values["hs_object_id"] = contact_id
        self._contacts.records[contact_id] = values
        if values.get("email"):
            self._emails.setdefault(_email_key(str(values["email"])), contact_id)
        self._contacts.created[contact_id] = values["createdate"] or stamp
        self._contacts.updated[contact_id] = stamp
        self._contacts.touch()
        return contact_id

    # -- HTTP ----------------------------------------------------------------------------------
    def _build_routes(self) -> list[Route]:
        table: list[tuple[str, str, Callable[..., Response]]] = [
            ("POST", "/crm/v3/objects/deals/search", self._deal_search),
            ("POST", "/crm/v3/objects/deals/batch/read", self._deal_batch_read),
            ("POST", "/crm/v3/objects/contacts/search", self._contact_search),
            ("POST", "/crm/v3/objects/contacts/batch/read", self._contact_batch_read),
            ("POST", "/crm/v3/objects/contacts/batch/update", self._contact_batch_update),
            ("POST", "/crm/v3/objects/contacts/batch/create", self._contact_batch_create),
            ("POST", "/crm/v3/objects/contacts", self._contact_create),
            ("PATCH", "/crm/v3/objects/contacts/{id}", self._contact_update),
            ("DELETE", "/crm/v3/objects/contacts/{id}", self._contact_archive),
            ("POST", "/crm/v4/associations/deals/contacts/batch/read", self._associations_read),
            ("GET", "/crm/v3/pipelines/deals", self._pipelines),
            ("GET", "/crm/v3/properties/contacts/groups", self._groups_list),
            ("POST", "/crm/v3/properties/contacts/groups", self._group_create),
            ("GET", "/crm/v3/properties/contacts", self._properties_list),
            ("POST", "/crm/v3/properties/contacts", self._property_create),
            ("GET", "/crm/v3/properties/contacts/{name}", self._property_get),
            ("POST", TOKEN_INFO_PATH, self._token_info),
        ]
        routes: list[Route] = []
        for method, template, handler in table:
            pattern = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "/?$")
            routes.append((method, pattern, f"{method} {template}", handler))
        return routes

    def app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Route, authenticate, rate-limit and answer one request."""
        request = Request(environ)
        return self._answer(request)(environ, start_response)

    def _answer(self, request: Request) -> Response:
        answer = self.tokens.route(request)
        if answer is not None:
            return answer
        match = None
        for method, pattern, endpoint, handler in self._routes:
            found = pattern.match(request.path)
            if found and method == request.method:
                match = (endpoint, handler, found.groupdict())
                break
        if match is None:
            with self._lock:
                self.requests_by_endpoint[f"{request.method} {request.path}"] += 1
            return self._error(HubSpotError(404, "OBJECT_NOT_FOUND", "resource not found"), request)
        endpoint, handler, params = match
        with self._lock:
            self.requests_by_endpoint[endpoint] += 1
        try:
            self._authenticate(request)
            self._rate_limit(endpoint)
            body = request.get_json(silent=True) if request.method in ("POST", "PATCH") else None
            if request.method in ("POST", "PATCH") and not isinstance(body, dict):
                raise HubSpotError(
                    400, "VALIDATION_ERROR", "Invalid input JSON: expected an object"
                )
            with self._lock:
                response = handler(body, request, **params)
        except HubSpotError as exc:
            return self._error(exc, request)
        if not endpoint.endswith("/search"):
            response.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = "10000"
            response.headers["X-HubSpot-RateLimit-Max"] = str(self._rolling.limit)
            response.headers["X-HubSpot-RateLimit-Remaining"] = str(self._rolling.remaining())
        return response

    def _error(self, exc: HubSpotError, request: Request) -> Response:
        with self._lock:
            self.rejected.append({"path": request.path, "status": exc.status, **exc.body})
        return _json(exc.body, exc.status)

    def _authenticate(self, request: Request) -> None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise HubSpotError(
                401,
                "INVALID_AUTHENTICATION",
                "Authentication credentials not found. This API supports OAuth 2.0 authentication "
                "and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            )
        if header.removeprefix("Bearer ").strip() != self.access_token:
            raise HubSpotError(
                401,
                "INVALID_AUTHENTICATION",
                "The access token provided is not valid or has expired.",
            )

    def _rate_limit(self, endpoint: str) -> None:
        with self._lock:
            today = self.now().date()
            if today != self._day:
                self._day, self._used_today = today, 0
            if self._used_today >= self.requests_per_day:
                self.daily_refused += 1
                raise self._rate_limited("DAILY")
            now = self.monotonic()
            if endpoint.endswith("/search") and not self._secondly_search.admit(now):
                raise self._rate_limited("SECONDLY")
            if not self._rolling.admit(now):
                if endpoint.endswith("/search"):
                    self._secondly_search.times.pop()
                raise self._rate_limited("TEN_SECONDLY_ROLLING")
            self._used_today += 1

    def _rate_limited(self, policy: str) -> HubSpotError:
        exc = HubSpotError(
            429,
            "RATE_LIMITS",
            f"You have reached your {policy.lower()} limit.",
            errorType="RATE_LIMIT",
            policyName=policy,
            requestId=str(uuid.uuid4()),
        )
        exc.body.pop("category")
        return exc

    def fault_response(self, fault: Fault) -> Response:
        """HubSpot's answer for injected faults: a rolling-window 429, or a 5xx error body."""
        with self._lock:
            self.requests_by_endpoint["fault"] += 1
        if fault is Fault.RATE_LIMIT:
            return _json(self._rate_limited("TEN_SECONDLY_ROLLING").body, 429)
        status = 503 if fault is Fault.UNAVAILABLE else 500
        body = HubSpotError(status, "INTERNAL_ERROR", "internal error").body
        return _json(body, status)

    # -- search --------------------------------------------------------------------------------
    def _deal_search(self, body: dict[str, Any], request: Request) -> Response:
        return self._search(self._deals, body)

    def _contact_search(self, body: dict[str, Any], request: Request) -> Response:
        return self._search(self._contacts, body)

    def _search(self, store: _ObjectStore, body: dict[str, Any]) -> Response:
        limit = body.get("limit", 10)
        if (
            not isinstance(limit, int)
            or isinstance(limit, bool)
            or not 0 <= limit <= SEARCH_MAX_LIMIT
        ):
            raise _validation(
                f"limit must be between 0 and {SEARCH_MAX_LIMIT}; got {limit}", "limit"
            )
        after_raw = body.get("after") or "0"
        if not str(after_raw).isdigit():
            raise _validation(f"Invalid 'after' value: {after_raw}", "after")
        after = int(after_raw)
        if after + limit > SEARCH_MAX_RESULTS:
            raise _validation(
                f"Cannot page beyond {SEARCH_MAX_RESULTS} results (after={after}, limit={limit}); "
                "narrow the query with filters.",
                "after",
            )
        groups = self._filter_groups(body.get("filterGroups") or [])
        sorts = self._sorts(body.get("sorts") or [])
        properties = body.get("properties") or None
        ids = self._email_lookup(store, groups)
        if ids is None:
            ids = store.search(groups, sorts)
        if body.get("query"):
            needle = str(body["query"]).lower()
            ids = [
                i
                for i in ids
                if any(
                    needle in (store.records[i].get(p) or "").lower() for p in store.default_output
                )
            ]
        if self.search_lag:
            horizon = (self.now() - self.search_lag).timestamp() * 1000
            ids = [i for i in ids if (to_epoch_ms(store.created[i]) or 0) <= horizon]
        page = ids[after : after + limit]
        answer: dict[str, Any] = {
            "total": len(ids),
            "results": [store.public(i, properties) for i in page],
        }
        if after + limit < len(ids) and limit:
            answer["paging"] = {"next": {"after": str(after + limit)}}
        return _json(answer)

    def _email_lookup(
        self, store: _ObjectStore, groups: list[list[dict[str, Any]]]
    ) -> list[str] | None:
        """Contact search by one email EQ filter, from the unique email index (fast path)."""
        if store is not self._contacts or len(groups) != 1 or len(groups[0]) != 1:
            return None
        flt = groups[0][0]
        if flt["propertyName"] != "email" or flt["operator"] != "EQ":
            return None
        owner = self._emails.get(str(flt.get("value", "")).strip().lower())
        return [owner] if owner else []

    def _filter_groups(self, raw: Any) -> list[list[dict[str, Any]]]:
        if not isinstance(raw, list):
            raise _validation("filterGroups must be a list", "filterGroups")
        if len(raw) > SEARCH_MAX_GROUPS:
            raise _validation(
                f"Too many filter groups: {len(raw)}. The maximum is {SEARCH_MAX_GROUPS}.",
                "filterGroups",
            )
        total = sum(len(g.get("filters") or []) for g in raw if isinstance(g, dict))
        if total > SEARCH_MAX_FILTERS:
            raise _validation(
                f"Too many filters: {total}. The maximum across all filter groups is "
                f"{SEARCH_MAX_FILTERS}.",
                "filterGroups",
            )
        groups: list[list[dict[str, Any]]] = []
        for group in raw:
            filters = group.get("filters") if isinstance(group, dict) else None
            if not isinstance(filters, list):
                raise _validation("each filter group needs a list of filters", "filterGroups")
            for flt in filters:
                if not isinstance(flt, dict) or not flt.get("propertyName"):
                    raise _validation("each filter needs a propertyName", "filterGroups")
                op = flt.get("operator")
                if op not in OPERATORS:
                    raise _validation(f"Unknown filter operator: {op}", "filterGroups")
                if op in ("IN", "NOT_IN") and not isinstance(flt.get("values"), list):
                    raise _validation(f"operator {op} requires 'values'", "filterGroups")
                if (
                    op not in ("IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY")
                    and flt.get("value") is None
                ):
                    raise _validation(f"operator {op} requires 'value'", "filterGroups")
            groups.append([{k: v for k, v in f.items() if v is not None} for f in filters])
        return groups

    def _sorts(self, raw: Any) -> list[tuple[str, bool]]:
        sorts: list[tuple[str, bool]] = []
        for item in raw if isinstance(raw, list) else []:
            if isinstance(item, str):
                sorts.append((item.lstrip("-"), item.startswith("-")))
            elif isinstance(item, dict) and item.get("propertyName"):
                direction = item.get("direction", "ASCENDING")
                if direction not in ("ASCENDING", "DESCENDING"):
                    raise _validation(f"Unknown sort direction: {direction}", "sorts")
                sorts.append((item["propertyName"], direction == "DESCENDING"))
            else:
                raise _validation("each sort needs a propertyName", "sorts")
        return sorts

    # -- batch reads ---------------------------------------------------------------------------
    def _deal_batch_read(self, body: dict[str, Any], request: Request) -> Response:
        return self._batch_read(self._deals, "DEAL", body)

    def _contact_batch_read(self, body: dict[str, Any], request: Request) -> Response:
        return self._batch_read(self._contacts, "CONTACT", body)

    def _batch_read(self, store: _ObjectStore, label: str, body: dict[str, Any]) -> Response:
        started = iso(self.now())
        inputs = _batch_inputs(body, BATCH_MAX)
        id_property = body.get("idProperty")
        properties = body.get("properties") or None
        if id_property and id_property not in store.types:
            raise HubSpotError(400, "VALIDATION_ERROR", f"Property {id_property} does not exist")
        if id_property and not self._unique_property(store, id_property):
            # HubSpot looks objects up only by a unique-value property (email for contacts).
            raise HubSpotError(
                400,
                "VALIDATION_ERROR",
                f"{id_property} is not a unique identifier property; "
                "use hs_object_id, email or a property with unique values",
            )
        found: list[dict[str, Any]] = []
        missing: list[str] = []
        index = _unique_index(store, id_property) if id_property else None
        for item in inputs:
            wanted = str(item.get("id", ""))
            record_id = index.get(wanted.lower()) if index is not None else wanted
            if record_id is None or record_id not in store.records:
                missing.append(wanted)
            else:
                found.append(store.public(record_id, properties))
        answer: dict[str, Any] = {
            "status": "COMPLETE",
            "results": found,
            "requestedAt": started,
            "startedAt": started,
            "completedAt": iso(self.now()),
        }
        if not missing:
            return _json(answer)
        answer["numErrors"] = 1
        answer["errors"] = [
            _standard_error(
                "OBJECT_NOT_FOUND",
                f"Could not get some {label} objects, they may be deleted or not exist. "
                "Check that ids are valid.",
                {"ids": missing},
            )
        ]
        return _json(answer, 207)

    def _unique_property(self, store: _ObjectStore, name: str) -> bool:
        if name == "hs_object_id" or (store is self._contacts and name == "email"):
            return True
        prop = self.contact_properties.get(name) if store is self._contacts else None
        return bool(prop and prop.get("hasUniqueValue"))

    def _associations_read(self, body: dict[str, Any], request: Request) -> Response:
        started = iso(self.now())
        inputs = _batch_inputs(body, ASSOCIATIONS_BATCH_MAX)
        results: list[dict[str, Any]] = []
        lonely: list[str] = []
        for item in inputs:
            deal_id = str(item.get("id", ""))
            contacts = self.deal_contacts.get(deal_id) if deal_id in self._deals.records else None
            if not contacts:
                lonely.append(deal_id)
                continue
            results.append(
                {
                    "from": {"id": deal_id},
                    "to": [
                        {
                            "toObjectId": int(contact_id),
                            "associationTypes": [
                                {
                                    "category": "HUBSPOT_DEFINED",
                                    "typeId": DEAL_TO_CONTACT_TYPE_ID,
                                    "label": None,
                                }
                            ],
                        }
                        for contact_id in contacts
                    ],
                }
            )
        answer: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "requestedAt": started,
            "startedAt": started,
            "completedAt": iso(self.now()),
        }
        if not lonely:
            return _json(answer)
        answer["numErrors"] = len(lonely)
        answer["errors"] = [
            _standard_error(
                "OBJECT_NOT_FOUND",
                f"No contacts are associated with deal {deal_id}.",
                {"fromObjectId": [deal_id]},
                subCategory="crm.associations.NO_ASSOCIATIONS_FOUND",
            )
            for deal_id in lonely
        ]
        return _json(answer, 207)

    # -- contact writes ------------------------------------------------------------------------
    def _check_writable(self, properties: Any) -> dict[str, str | None]:
        if not isinstance(properties, dict):
            raise _validation("properties must be an object", "properties")
        problems = []
        for name in properties:
            if name not in self.contact_properties:
                problems.append(
                    {
                        "isValid": False,
                        "message": f'Property "{name}" does not exist',
                        "error": "PROPERTY_DOESNT_EXIST",
                        "name": name,
                        "localizedErrorMessage": f'Property "{name}" does not exist',
                        "portalId": self.portal_id,
                    }
                )
            elif name in READ_ONLY:
                problems.append(
                    {
                        "isValid": False,
                        "message": f"{name} is a read only property; its value cannot be set.",
                        "error": "READ_ONLY_VALUE",
                        "name": name,
                    }
                )
        if problems:
            raise HubSpotError(
                400,
                "VALIDATION_ERROR",
                f"Property values were not valid: {json.dumps(problems)}",
                errors=[
                    {
                        "message": p["message"],
                        "code": p["error"],
                        "context": {"propertyName": [p["name"]]},
                    }
                    for p in problems
                ],
            )
        return {k: _str(v) for k, v in properties.items()}

    def _email_owner(self, email: str | None, except_id: str | None = None) -> str | None:
        if not email:
            return None
        owner = self._emails.get(email.strip().lower())
        return None if owner == except_id else owner

    def _contact_create(self, body: dict[str, Any], request: Request) -> Response:
        values = self._check_writable(body.get("properties", {}))
        existing = self._email_owner(values.get("email"))
        if existing:
            raise HubSpotError(409, "CONFLICT", f"Contact already exists. Existing ID: {existing}")
        contact_id = self._create_contact(values)
        self.accepted.append({"op": "contact.create", "id": contact_id, "properties": values})
        return _json(self._contacts.public(contact_id, list(values)), 201)

    def _apply_contact_update(self, contact_id: str, values: dict[str, str | None]) -> None:
        existing = self._email_owner(values.get("email"), except_id=contact_id)
        if existing:
            raise HubSpotError(409, "CONFLICT", f"Contact already exists. Existing ID: {existing}")
        record = self._contacts.records[contact_id]
        stamp = iso(self.now())
        values = self.lifecycle.apply(record, values, stamp)
        if "email" in values:
            old = (record.get("email") or "").strip().lower()
            if self._emails.get(old) == contact_id:
                del self._emails[old]
            if values["email"]:
                self._emails[values["email"].strip().lower()] = contact_id
        record.update(values)
        record["lastmodifieddate"] = stamp
        self._contacts.updated[contact_id] = stamp
        self._contacts.touch()
        self.accepted.append({"op": "contact.update", "id": contact_id, "properties": values})

    def _contact_update(self, body: dict[str, Any], request: Request, id: str) -> Response:
        if id not in self._contacts.records:
            raise HubSpotError(404, "OBJECT_NOT_FOUND", "resource not found", context={"id": [id]})
        values = self._check_writable(body.get("properties", {}))
        self._apply_contact_update(id, values)
        return _json(self._contacts.public(id, list(values)))

    def _contact_archive(self, body: None, request: Request, id: str) -> Response:
        """HubSpot's delete: 204, the contact gone from reads, search and its email freed."""
        record = self._contacts.records.pop(id, None)
        if record is not None:
            email = (record.get("email") or "").strip().lower()
            if self._emails.get(email) == id:
                del self._emails[email]
            self._contacts.created.pop(id, None)
            self._contacts.updated.pop(id, None)
            for contacts in self.deal_contacts.values():
                if id in contacts:
                    contacts.remove(id)
            self._contacts.touch()
            self.accepted.append({"op": "contact.archive", "id": id})
        return Response(status=204)

    def _contact_batch_update(self, body: dict[str, Any], request: Request) -> Response:
        started = iso(self.now())
        inputs = _batch_inputs(body, BATCH_MAX)
        checked = [
            (str(i.get("id", "")), self._check_writable(i.get("properties", {}))) for i in inputs
        ]
        ids = [cid for cid, _ in checked]
        duplicates = sorted({cid for cid in ids if ids.count(cid) > 1})
        if duplicates:
            raise _validation(
                f"Duplicate IDs found in batch input: [{', '.join(duplicates)}]. "
                "IDs must be unique",
                "inputs",
            )
        missing = [cid for cid, _ in checked if cid not in self._contacts.records]
        if missing:
            raise HubSpotError(
                400,
                "VALIDATION_ERROR",
                f"Could not find contacts with ids: {', '.join(missing)}",
                context={"ids": missing},
            )
        for contact_id, values in checked:  # all or nothing: an unknown stage fails the batch
            self.lifecycle.apply(self._contacts.records[contact_id], values, started)
        for contact_id, values in checked:
            self._apply_contact_update(contact_id, values)
        return _json(
            {
                "status": "COMPLETE",
                "results": [self._contacts.public(cid, list(values)) for cid, values in checked],
                "requestedAt": started,
                "startedAt": started,
                "completedAt": iso(self.now()),
            }
        )

    def _contact_batch_create(self, body: dict[str, Any], request: Request) -> Response:
        """All or nothing, as HubSpot: any invalid input or existing email fails the batch."""
        started = iso(self.now())
        inputs = _batch_inputs(body, BATCH_MAX)
        checked = [
            (i.get("objectWriteTraceId"), self._check_writable(i.get("properties", {})))
            for i in inputs
        ]
        seen: dict[str, int] = {}
        for position, (_, values) in enumerate(checked):
            self.lifecycle.apply({}, values, started)  # an unknown stage fails the whole batch
            email = (values.get("email") or "").strip().lower()
            if not email:
                continue
            existing = self._email_owner(email)
            if existing:
                raise HubSpotError(
                    409, "CONFLICT", f"Contact already exists. Existing ID: {existing}"
                )
            if email in seen:
                raise _validation(
                    f"Duplicate IDs found in batch input: [{email}]. IDs must be unique",
                    f"inputs[{position}]",
                )
            seen[email] = position
        results = []
        for trace_id, values in checked:
            contact_id = self._create_contact(values)
            self.accepted.append(
                {"op": "contact.create", "id": contact_id, "properties": values, "batch": True}
            )
            result = self._contacts.public(contact_id, list(values))
            if trace_id is not None:
                result["objectWriteTraceId"] = str(trace_id)
            results.append(result)
        return _json(
            {
                "status": "COMPLETE",
                "results": results,
                "requestedAt": started,
                "startedAt": started,
                "completedAt": iso(self.now()),
            },
            201,
        )

    # -- pipelines and properties --------------------------------------------------------------
    def _pipelines(self, body: None, request: Request) -> Response:
        return _json({"results": list(self.pipelines.values())})

    def _properties_list(self, body: None, request: Request) -> Response:
        return _json({"results": list(self.contact_properties.values())})

    def _property_get(self, body: None, request: Request, name: str) -> Response:
        prop = self.contact_properties.get(name)
        if prop is None:
            raise HubSpotError(
                404, "OBJECT_NOT_FOUND", f"Unable to find property {name} for object type contacts"
            )
        return _json(prop)

    def _require_scope(self, scope: str) -> None:
        if scope not in self.token_scopes.scopes:
            raise HubSpotError(
                403, "MISSING_SCOPES", MISSING_SCOPES_MESSAGE, errors=missing_scope_errors(scope)
            )

    def _property_create(self, body: dict[str, Any], request: Request) -> Response:
        self._require_scope(SCHEMA_WRITE)
        for required in ("name", "label", "type", "fieldType", "groupName"):
            if not body.get(required):
                raise _validation(f"{required} is required", required)
        name = body["name"]
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise _validation(
                f"Invalid property name {name!r}: lower-case letters, digits and _", "name"
            )
        if body["type"] not in PROPERTY_TYPES:
            raise _validation(f"Invalid property type {body['type']}", "type")
        if body["fieldType"] not in FIELD_TYPES:
            raise _validation(f"Invalid field type {body['fieldType']}", "fieldType")
        if body["groupName"] not in self.property_groups:
            raise _validation(f"Property group {body['groupName']} does not exist", "groupName")
        if name in self.contact_properties:
            raise HubSpotError(
                409, "OBJECT_ALREADY_EXISTS", f"Property named '{name}' already exists."
            )
        prop = self._add_contact_property(
            name, body["type"], body["groupName"], hubspot_defined=False
        )
        prop.update(
            label=body["label"],
            fieldType=body["fieldType"],
            description=body.get("description") or "",
        )
        self.accepted.append(
            {
                "op": "property.create",
                "name": name,
                "type": body["type"],
                "group": body["groupName"],
            }
        )
        return _json(prop, 201)

    def _token_info(self, body: dict[str, Any], request: Request) -> Response:
        status, answer = self.token_scopes.answer(self.access_token, body)
        if status != 200:
            raise HubSpotError(status, answer["category"], answer["message"])
        return _json(answer)

    def _groups_list(self, body: None, request: Request) -> Response:
        return _json({"results": list(self.property_groups.values())})

    def _group_create(self, body: dict[str, Any], request: Request) -> Response:
        self._require_scope(SCHEMA_WRITE)
        for required in ("name", "label"):
            if not body.get(required):
                raise _validation(f"{required} is required", required)
        if body["name"] in self.property_groups:
            raise HubSpotError(
                409,
                "OBJECT_ALREADY_EXISTS",
                f"A property group named '{body['name']}' already exists.",
            )
        group = self._add_group(body["name"], body["label"], body.get("displayOrder", -1))
        self.accepted.append({"op": "group.create", "name": body["name"]})
        return _json(group, 201)


def _str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, datetime):
        return iso(value)
    return str(value)


def _email_key(email: str) -> str:
    """The email index's key: trimmed, lower case.

    The email itself when it is one already, so two million seeded contacts do not hold every
    address twice.
    """
    key = email.strip().lower()
    return email if key == email else key


def _validation(message: str, field: str) -> HubSpotError:
    return HubSpotError(
        400,
        "VALIDATION_ERROR",
        message,
        errors=[{"message": message, "in": field}],
    )


def _batch_inputs(body: dict[str, Any], maximum: int) -> list[dict[str, Any]]:
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise _validation("inputs must be a non-empty list", "inputs")
    if len(inputs) > maximum:
        raise _validation(
            f"Batch input size {len(inputs)} exceeds the maximum of {maximum}.", "inputs"
        )
    if not all(isinstance(i, dict) for i in inputs):
        raise _validation("each input must be an object", "inputs")
    return inputs


def _unique_index(store: _ObjectStore, id_property: str) -> dict[str, str]:
    index: dict[str, str] = {}
    for record_id, values in store.records.items():
        value = values.get(id_property)
        if value:
            index.setdefault(value.lower(), record_id)
    return index


def _standard_error(
    category: str, message: str, context: dict[str, list[str]], **extra: Any
) -> dict[str, Any]:
    return {
        "status": "error",
        "category": category,
        "message": message,
        "context": context,
        "links": {},
        "errors": [],
        **extra,
    }
