"""Batched contact upserts for the CRM write-back: a few HubSpot calls per pass, not 2 per lead.

HubSpot's search allows 5 requests/s, so finding contacts one search at a time made 50 leads
take ~11 s. Here a pass first finds the contact of every write (``contact_lookup``: by the
stored contact ID, then by email, then by visitor ID or phone; a batch read or one search per
100), then sends one batch update and one batch create per 100. Only when HubSpot refuses a
whole batch for a reason retrying will not fix (a 4xx: one invalid value, an email created
meanwhile) is that batch redone one contact at a time, so the refusal lands on the contact
that caused it and the others are still written. ``HubSpotSource.upsert_contacts`` is the entry
point.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputForCreate,
)

from connector.errors import Permanent
from platforms.crm import ContactWrite, Outcomes
from platforms.hubspot.contact_lookup import ContactLookup, chunks
from platforms.hubspot.contact_lookup import norm as _norm

T = TypeVar("T")
BATCH_SIZE = 100  # HubSpot's maximum inputs per batch read/create/update
#: HubSpot's 409 names the contact that already has the email.
EXISTING_ID = re.compile(r"Existing ID:\s*(\d+)")


class ContactBatches:
    """Find each write's contact, update the found, create the rest; 100 per request."""

    def __init__(self, client: Any, fields: Any) -> None:
        self.client = client
        self.email_property: str = fields.email
        self.phone_property: str | None = getattr(fields, "phone", None)
        self.lookup = ContactLookup(client, fields)

    def upsert(self, writes: Sequence[ContactWrite]) -> Outcomes:
        """Outcome per write key; an exception only stops the contacts it concerns."""
        found, outcomes = self.lookup.find(writes)
        pending = [w for w in writes if w.key not in outcomes]
        updates = []
        for write in pending:
            if write.key not in found:
                continue
            match = found[write.key]
            if match.add_email:  # found by visitor ID or phone: it gets the email too
                properties = {**write.properties, self.email_property: match.add_email}
                write = replace(write, properties=properties)
            updates.append((match.contact_id, write))
        creates = [w for w in pending if w.key not in found]
        outcomes.update(self._update(updates))
        outcomes.update(self._create(creates))
        return outcomes

    # -- the two batch writes --------------------------------------------------------------
    def _update(self, updates: list[tuple[str, ContactWrite]]) -> Outcomes:
        """One input per contact (HubSpot refuses duplicate IDs in a batch)."""
        outcomes: Outcomes = {}
        by_contact: dict[str, list[ContactWrite]] = {}
        for contact_id, write in updates:
            by_contact.setdefault(contact_id, []).append(write)
        to_send = []
        for contact_id, group in by_contact.items():
            merged: dict[str, str] = {}
            for write in group:
                merged.update(write.properties)
            if merged:
                to_send.append((contact_id, merged, group))
            else:  # nothing to write: found is done
                outcomes.update({w.key: contact_id for w in group})

        def send(items: list[tuple[str, dict[str, str], list[ContactWrite]]]) -> Outcomes:
            self.client.call_json(  # the answer echoes the writes: not worth building models
                "contact_batch_update",
                self.client.contacts_batch.update,
                BatchInputSimplePublicObjectBatchInput(
                    inputs=[
                        SimplePublicObjectBatchInput(id=contact_id, properties=props)
                        for contact_id, props, _ in items
                    ]
                ),
            )
            return {w.key: cid for cid, _, group in items for w in group}

        def keys(items: list[tuple[str, dict[str, str], list[ContactWrite]]]) -> list[int]:
            return [w.key for _, _, group in items for w in group]

        outcomes.update(_in_batches(to_send, send, keys))
        return outcomes

    def _create(self, creates: list[ContactWrite]) -> Outcomes:
        """Create with email and phone; results are matched back by ``objectWriteTraceId``."""
        by_email: dict[str, list[ContactWrite]] = {}
        singles: list[list[ContactWrite]] = []
        for write in creates:  # two leads of one new email make one contact
            if write.email:
                by_email.setdefault(_norm(write.email), []).append(write)
            else:
                singles.append([write])
        groups = list(by_email.values()) + singles

        def send(items: list[list[ContactWrite]]) -> Outcomes:
            inputs = []
            for group in items:
                first = group[0]
                props: dict[str, str] = {}
                for write in group:
                    props.update(write.properties)
                if first.email:
                    props[self.email_property] = first.email
                phone = next((w.phone for w in group if w.phone), None)
                if phone and self.phone_property:
                    props[self.phone_property] = phone
                inputs.append(
                    SimplePublicObjectBatchInputForCreate(
                        properties=props, associations=[], object_write_trace_id=str(first.key)
                    )
                )
            try:
                answer = self.client.call_json(
                    "contact_batch_create",
                    self.client.contacts_batch.create,
                    BatchInputSimplePublicObjectBatchInputForCreate(inputs=inputs),
                )
            except Exception as exc:
                existing = EXISTING_ID.search(str(getattr(exc, "body", {}).get("message", "")))
                if len(items) != 1 or getattr(exc, "status", None) != 409 or existing is None:
                    raise
                # Created since we looked (another process, or an earlier unknown outcome).
                return self._update([(existing.group(1), w) for w in items[0]])
            results = answer.get("results") or []
            ids = {str(r.get("objectWriteTraceId")): str(r["id"]) for r in results}
            outcomes: Outcomes = {}
            for group in items:
                contact_id = ids.get(str(group[0].key))
                for write in group:
                    outcomes[write.key] = contact_id or RuntimeError(
                        "HubSpot's batch create answer did not name this contact"
                    )
            return outcomes

        def keys(items: list[list[ContactWrite]]) -> list[int]:
            return [w.key for group in items for w in group]

        return _in_batches(groups, send, keys)


def _in_batches(
    items: list[T], send: Callable[[list[T]], Outcomes], keys: Callable[[list[T]], list[int]]
) -> Outcomes:
    """``send`` per 100; a batch refused as a whole for a permanent reason is redone one by one."""
    outcomes: Outcomes = {}
    for chunk in chunks(items, BATCH_SIZE):
        try:
            outcomes.update(send(chunk))
        except Exception as exc:
            if len(chunk) > 1 and isinstance(exc, Permanent):
                for item in chunk:
                    try:
                        outcomes.update(send([item]))
                    except Exception as single:
                        outcomes.update({key: single for key in keys([item])})
            else:  # throttled/unavailable after the client's own retries: retry them later
                outcomes.update({key: exc for key in keys(chunk)})
    return outcomes
