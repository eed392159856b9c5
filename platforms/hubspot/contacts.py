"""Contacts changed since a cursor, with their lifecycle properties, for the lifecycle step.

One search per page of 200 and nothing else: the email, lifecycle stage and date-entered
properties all come back in the search answer, so no batch read is needed. Paging is the same
keyset paging as deals (``platforms.hubspot.paging``), filtered and sorted on the profile's
``lifecycle.modified`` property (HubSpot's ``lastmodifieddate``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from hubspot.crm.contacts import PublicObjectSearchRequest

from connector.errors import PermanentSourceError
from connector.mapping import MappingProfile
from platforms.crm import CrmContact
from platforms.hubspot.client import HubSpotClient, sdk_config
from platforms.hubspot.paging import PAGE_SIZE, Progress, Record, keyset_pages, parse_time


class ContactPull:
    """Searches contacts by modification time through the shared, throttled client."""

    def __init__(self, client: HubSpotClient, profile: MappingProfile) -> None:
        self.client = client
        self.profile = profile
        modified = profile.lifecycle.modified
        if not modified:
            raise PermanentSourceError("mapping.lifecycle.modified is not set")
        self.modified = modified
        self.properties = profile.lifecycle_properties()

    def changed_since(
        self, since: datetime | None, report: Progress | None = None
    ) -> Iterator[list[CrmContact]]:
        """Pages of contacts modified at or after ``since``, oldest first."""
        yield from keyset_pages(self._search, self.modified, self._contacts, since, report)

    def _search(
        self, filter_groups: list[dict[str, Any]], after: str | None, sort_by: str | None = None
    ) -> Any:
        request = PublicObjectSearchRequest(
            filter_groups=filter_groups,
            sorts=[{"propertyName": sort_by or self.modified, "direction": "ASCENDING"}],
            properties=self.properties,
            limit=PAGE_SIZE,
            after=after,
            local_vars_configuration=sdk_config(self.client.contacts_search),
        )
        return self.client.call_json(
            "contact_search",
            self.client.contacts_search.do_search,
            public_object_search_request=request,
        )

    def _contacts(self, records: list[Record]) -> list[CrmContact]:
        fields = self.profile.contact
        out = []
        for record in records:
            props: dict[str, str | None] = dict(record.get("properties") or {})
            out.append(
                CrmContact(
                    id=str(record["id"]),
                    email=props.get(fields.email) if fields.email else None,
                    lifecycle_stage=(
                        props.get(fields.lifecycle_stage) if fields.lifecycle_stage else None
                    ),
                    created_time=parse_time(record.get("createdAt")),
                    properties=props,
                    modified_time=(
                        parse_time(props.get(self.modified)) or parse_time(record.get("updatedAt"))
                    ),
                )
            )
        return out
