"""HubSpot as closedloop's CRM source: deals changed since a cursor, pipelines, write-back.

Request economy matters more than anything here (HubSpot allows 100-190 requests per 10 s and
5 searches/s): per page of 200 deals there is one search, one v4 association batch and one
contact batch read per 100 distinct contacts, never a call per deal. Property names all come
from the mapping profile.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from hubspot.crm.associations.v4 import (
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicFetchAssociationsBatchRequest,
)
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInput,
    BatchReadInputSimplePublicObjectId,
    SimplePublicObjectBatchInput,
    SimplePublicObjectId,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.contacts import PublicObjectSearchRequest as ContactSearchRequest
from hubspot.crm.deals import BatchReadInputSimplePublicObjectId as DealBatchRead
from hubspot.crm.deals import PublicObjectSearchRequest as DealSearchRequest
from hubspot.crm.deals import SimplePublicObjectId as DealId
from hubspot.crm.properties import PropertyCreate, PropertyGroupCreate

from connector.errors import PermanentSourceError
from connector.mapping import MappingProfile
from platforms.crm import ContactWrite, CrmContact, CrmDeal, CrmPipeline, CrmStage, Outcomes
from platforms.hubspot.client import HubSpotApiError, HubSpotClient, sdk_config, sdk_inputs
from platforms.hubspot.contact_batches import BATCH_SIZE, EXISTING_ID, ContactBatches, chunks
from platforms.hubspot.contacts import ContactPull
from platforms.hubspot.paging import (
    PAGE_SIZE,
    Progress,
    Record,
    keyset_pages,
)
from platforms.hubspot.paging import parse_time as _parse_time
from platforms.hubspot.settings import HubSpotSettings

ASSOCIATIONS_BATCH = 1_000  # v4 association batch read maximum


class HubSpotSource:
    """The ``CrmSource`` for HubSpot, through the official SDK."""

    def __init__(
        self,
        settings: HubSpotSettings,
        profile: MappingProfile,
        *,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = 4,
    ) -> None:
        self.profile = profile
        self.client = HubSpotClient(
            settings, timeout=timeout, clock=clock, sleep=sleep, max_attempts=max_attempts
        )
        self._ensured: set[str] = set()
        #: Stage IDs of every pipeline, learnt from ``pipelines()`` (the sync reads them first),
        #: so each deal read also asks for the stages' date-entered properties.
        self._stage_ids: tuple[str, ...] = ()
        #: (stage ID, its date-entered property) of those stages the profile names one for,
        #: worked out with ``_stage_ids`` rather than again for every deal read.
        self._entered: tuple[tuple[str, str], ...] = ()

    @property
    def requests_made(self) -> int:
        """HTTP requests sent so far (retries included), for the request-economy benchmark."""
        return self.client.requests_made

    # -- deals ---------------------------------------------------------------------------------
    def deals_changed_since(
        self, since: datetime | None, *, progress: object | None = None
    ) -> Iterator[list[CrmDeal]]:
        """Pages of deals modified at or after ``since``, oldest first, contacts included.

        Keyset paging (see ``platforms.hubspot.paging``): each page restarts from the last
        modified time seen, so deals changing mid-pull cannot hide unchanged ones and the
        10,000-results cap of one query never applies.
        """
        report: Progress | None = progress if callable(progress) else None  # type: ignore[assignment]
        yield from keyset_pages(
            self._search_deals, self.profile.deal.modified, self._with_contacts, since, report
        )

    # -- contacts' lifecycle -------------------------------------------------------------------
    def contacts_changed_since(
        self, since: datetime | None, *, progress: object | None = None
    ) -> Iterator[list[CrmContact]]:
        """Pages of contacts modified at or after ``since``, with their lifecycle properties."""
        report: Progress | None = progress if callable(progress) else None  # type: ignore[assignment]
        yield from ContactPull(self.client, self.profile).changed_since(since, report)

    def deals_by_id(self, ids: list[str]) -> list[CrmDeal]:
        """The deals with these IDs (missing ones are left out), contacts included."""
        records: list[Record] = []
        for chunk in chunks(list(dict.fromkeys(ids)), BATCH_SIZE):
            answer = self.client.call_json(
                "deal_batch_read",
                self.client.deals_batch.read,
                DealBatchRead(
                    inputs=sdk_inputs(DealId, self.client.deals_batch, chunk),
                    properties=self._deal_properties(),
                    properties_with_history=[],
                    local_vars_configuration=sdk_config(self.client.deals_batch),
                ),
            )
            records.extend(answer.get("results") or [])
        return self._with_contacts(records)

    def _search_deals(
        self,
        filter_groups: list[dict[str, Any]],
        after: str | None,
        sort_by: str | None = None,
    ) -> Any:
        request = DealSearchRequest(
            filter_groups=filter_groups,
            sorts=[
                {"propertyName": sort_by or self.profile.deal.modified, "direction": "ASCENDING"}
            ],
            properties=self._deal_properties(),
            limit=PAGE_SIZE,
            after=after,
            local_vars_configuration=sdk_config(self.client.deals_search),
        )
        return self.client.call_json(
            "deal_search", self.client.deals_search.do_search, public_object_search_request=request
        )

    def _deal_properties(self) -> list[str]:
        """The profile's deal properties plus each known stage's date-entered property."""
        names = self.profile.deal_properties()
        entered = [self.profile.deal.stage_entered_property(s) for s in self._stage_ids]
        return names + sorted({p for p in entered if p and p not in names})

    def _stage_times(self, props: dict[str, str | None]) -> dict[str, datetime]:
        """Stage ID -> HubSpot's date-entered time, for the stages the deal has one for."""
        times = {}
        for stage, prop in self._entered:
            entered = _parse_time(props.get(prop))
            if entered is not None:
                times[stage] = entered
        return times

    # -- contacts of deals ---------------------------------------------------------------------
    def _with_contacts(self, records: Sequence[Record]) -> list[CrmDeal]:
        """CrmDeals for HubSpot's deal records, with one association batch and few contact reads."""
        if not records:
            return []
        ids = [str(r["id"]) for r in records]
        links = self._contact_ids(ids)
        wanted = list(dict.fromkeys(c for i in ids for c in links.get(i, [])))
        contacts = self._read_contacts(wanted)
        return [
            self._deal(r, tuple(contacts[c] for c in links.get(i, []) if c in contacts))
            for i, r in zip(ids, records, strict=True)
        ]

    def _contact_ids(self, deal_ids: list[str]) -> dict[str, list[str]]:
        links: dict[str, list[str]] = {}
        for chunk in chunks(deal_ids, ASSOCIATIONS_BATCH):
            answer = self.client.call_json(
                "associations",
                self.client.associations_batch.get_page,
                "deals",
                "contacts",
                BatchInputPublicFetchAssociationsBatchRequest(
                    inputs=sdk_inputs(
                        PublicFetchAssociationsBatchRequest, self.client.associations_batch, chunk
                    ),
                    local_vars_configuration=sdk_config(self.client.associations_batch),
                ),
            )
            for result in answer.get("results") or []:
                links[str(result["from"]["id"])] = [
                    str(t["toObjectId"]) for t in result.get("to") or []
                ]
        return links

    def _read_contacts(self, ids: list[str]) -> dict[str, CrmContact]:
        found: dict[str, CrmContact] = {}
        for chunk in chunks(ids, BATCH_SIZE):
            answer = self.client.call_json(
                "contact_batch_read",
                self.client.contacts_batch.read,
                BatchReadInputSimplePublicObjectId(
                    inputs=sdk_inputs(SimplePublicObjectId, self.client.contacts_batch, chunk),
                    properties=self.profile.contact_properties(),
                    properties_with_history=[],
                    local_vars_configuration=sdk_config(self.client.contacts_batch),
                ),
            )
            for record in answer.get("results") or []:
                contact = self._contact(record)
                found[contact.id] = contact
        return found

    def _contact(self, record: Record) -> CrmContact:
        fields = self.profile.contact
        props: dict[str, str | None] = dict(record.get("properties") or {})

        def value(name: str | None) -> str | None:
            return props.get(name) if name else None

        return CrmContact(
            id=str(record["id"]),
            email=value(fields.email),
            phone=value(fields.phone),
            hubspotutk=value(fields.hubspotutk),
            visitor_id=value(fields.visitor_id),
            gclid=value(fields.gclid),
            fbclid=value(fields.fbclid),
            lifecycle_stage=value(fields.lifecycle_stage),
            created_time=(
                _parse_time(record.get("createdAt")) or _parse_time(props.get("createdate"))
            ),
            properties=props,
        )

    def _deal(self, record: Record, contacts: tuple[CrmContact, ...]) -> CrmDeal:
        fields = self.profile.deal
        props: dict[str, str | None] = dict(record.get("properties") or {})
        modified = _parse_time(props.get(fields.modified)) or _parse_time(record.get("updatedAt"))
        if modified is None:
            raise PermanentSourceError(f"HubSpot deal {record['id']} has no modification time")
        return CrmDeal(
            id=str(record["id"]),
            modified_time=modified,
            name=props.get(fields.name),
            pipeline=props.get(fields.pipeline),
            stage=props.get(fields.stage),
            amount=props.get(fields.amount),
            currency=props.get(fields.currency),
            close_date=props.get(fields.close_date),
            created_time=(
                _parse_time(props.get(fields.created)) or _parse_time(record.get("createdAt"))
            ),
            is_closed_won=_flag(props.get(fields.is_closed_won)) if fields.is_closed_won else None,
            is_closed=_flag(props.get(fields.is_closed)) if fields.is_closed else None,
            contacts=contacts,
            properties=props,
            recurring_amount=(
                props.get(fields.recurring_amount) if fields.recurring_amount else None
            ),
            stage_entered=self._stage_times(props),
        )

    # -- pipelines -----------------------------------------------------------------------------
    def pipelines(self) -> list[CrmPipeline]:
        """Every deal pipeline, stages in display order; won = probability 1.0 and closed.

        ``won_stages`` in the profile overrides HubSpot's probability for a pipeline.
        """
        answer = self.client.call("pipelines", self.client.pipelines_api.get_all, "deals")
        pipelines = []
        for pipeline in sorted(answer.results or [], key=lambda p: (p.display_order, p.id)):
            won_override = self.profile.won_stages.get(pipeline.id)
            stages = []
            for stage in sorted(pipeline.stages or [], key=lambda s: (s.display_order, s.id)):
                meta = stage.metadata or {}
                probability = _float(meta.get("probability"))
                closed = str(meta.get("isClosed", "")).lower() == "true"
                won = (
                    stage.id in won_override
                    if won_override is not None
                    else closed and probability is not None and probability >= 1.0
                )
                stages.append(
                    CrmStage(
                        id=stage.id,
                        label=stage.label,
                        display_order=stage.display_order,
                        probability=probability,
                        is_closed=closed,
                        is_won=won,
                    )
                )
            pipelines.append(
                CrmPipeline(id=pipeline.id, label=pipeline.label, stages=tuple(stages))
            )
        self._stage_ids = tuple(dict.fromkeys(s.id for p in pipelines for s in p.stages))
        named = ((s, self.profile.deal.stage_entered_property(s)) for s in self._stage_ids)
        self._entered = tuple((s, prop) for s, prop in named if prop)
        return pipelines

    # -- write-back ----------------------------------------------------------------------------
    def ensure_contact_properties(self, properties: dict[str, str], group_name: str) -> None:
        """Create ``group_name`` and the missing string properties (values are property names)."""
        wanted = sorted(set(properties.values()) - self._ensured)
        if not wanted:
            return
        answer = self.client.call("properties", self.client.properties_core.get_all, "contacts")
        existing = {p.name for p in answer.results or []}
        missing = [name for name in wanted if name not in existing]
        if missing:
            groups = self.client.call(
                "property_groups", self.client.properties_groups.get_all, "contacts"
            )
            if group_name not in {g.name for g in groups.results or []}:
                self._tolerate_conflict(
                    "property_group_create",
                    self.client.properties_groups.create,
                    "contacts",
                    PropertyGroupCreate(name=group_name, label=_label(group_name)),
                )
            for name in missing:
                self._tolerate_conflict(
                    "property_create",
                    self.client.properties_core.create,
                    "contacts",
                    PropertyCreate(
                        name=name,
                        label=_label(name),
                        type="string",
                        field_type="text",
                        group_name=group_name,
                        description="Written by closedloop (first/last touch attribution).",
                    ),
                )
        self._ensured.update(wanted)

    def _tolerate_conflict(self, endpoint: str, method: Callable[..., Any], *args: Any) -> None:
        try:
            self.client.call(endpoint, method, *args)
        except HubSpotApiError as exc:
            if exc.status != 409:  # created meanwhile by someone else: fine
                raise

    def upsert_contact(
        self, email: str | None, phone: str | None, properties: dict[str, str]
    ) -> str:
        """Find the contact by email (create it if missing), write ``properties``; its ID."""
        fields = self.profile.contact
        contact_id = self._find_by_email(email) if email else None
        if contact_id is None:
            create = dict(properties)
            if email:
                create[fields.email] = email
            if phone and fields.phone:
                create[fields.phone] = phone
            try:
                created = self.client.call(
                    "contact_create",
                    self.client.contacts_basic.create,
                    SimplePublicObjectInputForCreate(properties=create, associations=[]),
                )
                return str(created.id)
            except HubSpotApiError as exc:
                # The search index lags behind writes; HubSpot names the existing contact.
                found = EXISTING_ID.search(str(exc.body.get("message", "")))
                if exc.status != 409 or found is None:
                    raise
                contact_id = found.group(1)
        if properties:
            self.client.call(
                "contact_update",
                self.client.contacts_basic.update,
                contact_id,
                SimplePublicObjectInput(properties=dict(properties)),
            )
        return contact_id

    def clear_contact_properties(self, contact_ids: list[str], properties: list[str]) -> int:
        """Set ``properties`` to "" (HubSpot's way to clear a value) on the contacts it still has.

        One properties read, then per 100 contacts one batch read (a contact deleted in HubSpot
        meanwhile is skipped, not an error) and one batch update. Properties HubSpot does not
        have were never written, so they are left out rather than refused as unknown.
        """
        ids = list(dict.fromkeys(str(c) for c in contact_ids))
        if not ids or not properties:
            return 0
        answer = self.client.call("properties", self.client.properties_core.get_all, "contacts")
        existing = {p.name for p in answer.results or []}
        names = sorted(set(properties) & existing)
        if not names:
            return 0
        cleared = 0
        for chunk in chunks(ids, BATCH_SIZE):
            found = self.client.call(
                "contact_batch_read",
                self.client.contacts_batch.read,
                BatchReadInputSimplePublicObjectId(
                    inputs=sdk_inputs(SimplePublicObjectId, self.client.contacts_batch, chunk),
                    properties=names,
                    properties_with_history=[],
                ),
            )
            present = [str(r.id) for r in found.results or []]
            if not present:
                continue
            self.client.call(
                "contact_batch_update",
                self.client.contacts_batch.update,
                BatchInputSimplePublicObjectBatchInput(
                    inputs=[
                        SimplePublicObjectBatchInput(id=cid, properties=dict.fromkeys(names, ""))
                        for cid in present
                    ]
                ),
            )
            cleared += len(present)
        return cleared

    def upsert_contacts(self, writes: list[ContactWrite]) -> Outcomes:
        """Batch read by email, then batch update and create (see ``contact_batches``)."""
        return ContactBatches(self.client, self.profile.contact).upsert(writes)

    def _find_by_email(self, email: str) -> str | None:
        request = ContactSearchRequest(
            filter_groups=[
                {
                    "filters": [
                        {
                            "propertyName": self.profile.contact.email,
                            "operator": "EQ",
                            "value": email,
                        }
                    ]
                }
            ],
            properties=[self.profile.contact.email],
            limit=1,
        )
        answer = self.client.call(
            "contact_search",
            self.client.contacts_search.do_search,
            public_object_search_request=request,
        )
        results = answer.results or []
        return str(results[0].id) if results else None


def _flag(value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    return value.strip().lower() == "true"


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _label(name: str) -> str:
    return name.replace("_", " ").strip().capitalize()
