"""Which existing HubSpot contact each write-back goes to, decided before anything is created.

In order of trust:

1. the contact ID closedloop stored for the person: one batch read by ID per 100 (a contact
   deleted or merged away since is looked up again below, as if it were unknown);
2. the email: one batch read by email per 100 (HubSpot keeps emails unique, and unlike search
   the batch read does not lag behind recent writes);
3. the visitor ID and the phone, which HubSpot does not keep unique: one search per 100 writes.

A contact found by visitor ID or phone is taken only when it has no email or the write has none
(or the same one), and only by one email per pass, so two people sharing an office line or a
computer never end up on one contact. A lookup that fails is reported as that write's outcome:
the caller retries it later instead of creating a contact the lookup might have found.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from hubspot.crm.contacts import (
    BatchReadInputSimplePublicObjectId,
    PublicObjectSearchRequest,
    SimplePublicObjectId,
)

from platforms.crm import ContactWrite, Outcomes
from platforms.hubspot.client import sdk_inputs
from platforms.hubspot.paging import next_offset

BATCH_SIZE = 100  # HubSpot's maximum inputs per batch read
SEARCH_VALUES = 100  # values per IN filter in one search
SEARCH_PAGE = 200  # HubSpot's maximum search page


@dataclass(frozen=True)
class Found:
    """The contact a write goes to, and the email to add to it (it had none)."""

    contact_id: str
    add_email: str | None = None


class ContactLookup:
    """Finds the contacts for a pass of writes in a few batch reads and searches."""

    def __init__(self, client: Any, fields: Any) -> None:
        self.client = client
        self.email_property: str = fields.email
        self.phone_property: str | None = getattr(fields, "phone", None)
        self.visitor_property: str | None = getattr(fields, "visitor_id", None)

    def find(self, writes: Sequence[ContactWrite]) -> tuple[dict[int, Found], Outcomes]:
        """The contact found per write key, and the lookup errors per key (not to create)."""
        found: dict[int, Found] = {}
        errors: Outcomes = {}
        known = [w for w in writes if w.contact_id]
        existing = self._by_id(known, errors)
        for write in known:
            if str(write.contact_id) in existing:
                found[write.key] = Found(str(write.contact_id))
        rest = [w for w in writes if w.key not in found and w.key not in errors]
        by_email = self._by_email(rest, errors)
        for write in rest:
            contact_id = by_email.get(norm(write.email))
            if contact_id:
                found[write.key] = Found(contact_id)
        rest = [w for w in rest if w.key not in found and w.key not in errors]
        found.update(self._by_visitor_or_phone(rest, errors))
        return found, errors

    # -- 1. known contact IDs ----------------------------------------------------------------
    def _by_id(self, writes: list[ContactWrite], errors: Outcomes) -> set[str]:
        """The stored contact IDs HubSpot still has (missing ones are HubSpot's 207)."""
        ids = sorted({str(w.contact_id) for w in writes})
        existing: set[str] = set()
        for chunk in chunks(ids, BATCH_SIZE):
            try:
                answer = self._read(chunk, id_property=None)
            except Exception as exc:
                errors.update({w.key: exc for w in writes if str(w.contact_id) in chunk})
                continue
            existing.update(str(record["id"]) for record in answer.get("results") or [])
        return existing

    # -- 2. emails ---------------------------------------------------------------------------
    def _by_email(self, writes: list[ContactWrite], errors: Outcomes) -> dict[str, str]:
        """Lowercased email -> contact ID, for the emails HubSpot has."""
        emails = sorted({norm(w.email) for w in writes if w.email})
        found: dict[str, str] = {}
        for chunk in chunks(emails, BATCH_SIZE):
            try:
                answer = self._read(chunk, id_property=self.email_property)
            except Exception as exc:
                errors.update({w.key: exc for w in writes if w.email and norm(w.email) in chunk})
                continue
            for record in answer.get("results") or []:
                email = norm((record.get("properties") or {}).get(self.email_property))
                if email:
                    found[email] = str(record["id"])
        return found

    def _read(self, ids: list[str], id_property: str | None) -> dict[str, Any]:
        """One batch read (HubSpot's JSON answer: found ones in ``results``, 207 for the rest)."""
        return self.client.call_json(
            "contact_batch_read",
            self.client.contacts_batch.read,
            BatchReadInputSimplePublicObjectId(
                id_property=id_property,
                inputs=sdk_inputs(SimplePublicObjectId, self.client.contacts_batch, ids),
                properties=[self.email_property],
            ),
        )

    # -- 3. visitor IDs and phones -----------------------------------------------------------
    def _by_visitor_or_phone(
        self, writes: list[ContactWrite], errors: Outcomes
    ) -> dict[int, Found]:
        """Contacts holding one of the write's visitor IDs, else its phone (see module doc)."""
        found: dict[int, Found] = {}
        taken: dict[str, str] = {}  # contact ID -> the email a write of this pass gives it
        for group in self._search_groups(writes):
            try:
                records = self._search(group)
            except Exception as exc:
                errors.update({w.key: exc for w in group})
                continue
            for write in group:
                match = self._pick(write, records, taken)
                if match is not None:
                    found[write.key] = match
        return found

    def _search_groups(self, writes: list[ContactWrite]) -> Iterable[list[ContactWrite]]:
        """Writes in groups whose visitor IDs and phones each fit one IN filter."""
        group: list[ContactWrite] = []
        visitors: set[str] = set()
        phones: set[str] = set()
        for write in writes:
            mine_v = set(self._visitors(write))
            mine_p = {write.phone} if write.phone and self.phone_property else set()
            if not mine_v and not mine_p:
                continue
            if group and (
                len(visitors | mine_v) > SEARCH_VALUES or len(phones | mine_p) > SEARCH_VALUES
            ):
                yield group
                group, visitors, phones = [], set(), set()
            group.append(write)
            visitors |= mine_v
            phones |= mine_p
        if group:
            yield group

    def _visitors(self, write: ContactWrite) -> list[str]:
        """Searched only where the write carries the property (so closedloop created it)."""
        if not self.visitor_property or self.visitor_property not in write.properties:
            return []
        return sorted(set(write.visitor_ids))[:SEARCH_VALUES]

    def _search(self, writes: list[ContactWrite]) -> list[dict[str, str | None]]:
        """Every contact holding one of these visitor IDs or phones, oldest first."""
        groups = []
        visitors = sorted({v for w in writes for v in self._visitors(w)})
        if visitors:
            groups.append(self._in(str(self.visitor_property), visitors))
        phones = sorted({w.phone for w in writes if w.phone}) if self.phone_property else []
        if phones:
            groups.append(self._in(str(self.phone_property), phones))
        wanted = [self.email_property, self.phone_property, self.visitor_property, "createdate"]
        properties = [p for p in wanted if p]
        records: list[dict[str, str | None]] = []
        after: str | None = None
        while True:
            answer = self.client.call_json(
                "contact_search",
                self.client.contacts_search.do_search,
                public_object_search_request=PublicObjectSearchRequest(
                    filter_groups=groups,
                    sorts=[{"propertyName": "createdate", "direction": "ASCENDING"}],
                    properties=properties,
                    limit=SEARCH_PAGE,
                    after=after,
                ),
            )
            for record in answer.get("results") or []:
                records.append({**(record.get("properties") or {}), "id": str(record["id"])})
            after = next_offset(answer)
            if not after:
                return records

    def _in(self, name: str, values: list[str]) -> dict[str, Any]:
        return {"filters": [{"propertyName": name, "operator": "IN", "values": values}]}

    def _pick(
        self,
        write: ContactWrite,
        records: list[dict[str, str | None]],
        taken: dict[str, str],
    ) -> Found | None:
        """The oldest fitting contact with one of the write's visitor IDs, else its phone."""
        email = norm(write.email)
        mine = set(write.visitor_ids)
        by_visitor = [r for r in records if self.visitor_property and r.get(self.visitor_property)]
        by_visitor = [r for r in by_visitor if r[str(self.visitor_property)] in mine]
        by_phone = [
            r
            for r in records
            if write.phone and self.phone_property and r.get(self.phone_property) == write.phone
        ]
        for record in [*by_visitor, *by_phone]:
            theirs = norm(record.get(self.email_property))
            if email and theirs and theirs != email:
                continue  # someone else's contact (a shared device or office line)
            contact_id = str(record["id"])
            if email and taken.setdefault(contact_id, email) != email:
                continue  # another person of this pass is adding their email to it
            return Found(contact_id, add_email=write.email if email and not theirs else None)
        return None


def chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    """Consecutive slices of at most ``size`` items (one batch request each)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def norm(email: str | None) -> str:
    """An email as HubSpot compares them (case-insensitive, no surrounding space)."""
    return email.strip().lower() if email else ""
