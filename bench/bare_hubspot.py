"""The reference for the pull benchmark: a bare ``hubspot-api-client`` loop, nothing of ours.

It makes the same minimum requests as closedloop's pull (per page of 200 deals: one search,
one v4 association batch, one contact batch read per 100 contacts) with the same property
lists, and uses the SDK the way its documentation shows: models in, models out. It pages by
restarting each search after the last modified time seen (the sandbox's seeded deals each
have their own millisecond), which is what any pull of more than 10,000 deals must do. It
does nothing with the answers beyond collecting the contact IDs to read: whatever closedloop
spends on top (throttle, retries, turning answers into ``CrmDeal``s) counts against it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import hubspot
from hubspot.crm.associations.v4 import (
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicFetchAssociationsBatchRequest,
)
from hubspot.crm.contacts import BatchReadInputSimplePublicObjectId, SimplePublicObjectId
from hubspot.crm.deals import PublicObjectSearchRequest

PAGE, BATCH = 200, 100


def bare_pull(
    base_url: str,
    token: str,
    modified: str,
    deal_properties: list[str],
    contact_properties: list[str],
    stop_after: int | None = None,
) -> tuple[int, int]:
    """Every deal and its contacts, read with the SDK alone; (deals, contacts) read.

    ``stop_after``: stop after the page that reaches this many deals (a shorter reference).
    """
    crm = hubspot.HubSpot(access_token=token, host=base_url.rstrip("/")).crm
    search, associations, contacts = (
        crm.deals.search_api,
        crm.associations.v4.batch_api,
        crm.contacts.batch_api,
    )
    deals = people = 0
    last: str | None = None
    while True:
        after_last = {"propertyName": modified, "operator": "GT", "value": last}
        page = search.do_search(
            public_object_search_request=PublicObjectSearchRequest(
                filter_groups=[] if last is None else [{"filters": [after_last]}],
                sorts=[{"propertyName": modified, "direction": "ASCENDING"}],
                properties=deal_properties,
                limit=PAGE,
            )
        )
        if not page.results:
            return deals, people
        deals += len(page.results)
        links = associations.get_page(
            "deals",
            "contacts",
            BatchInputPublicFetchAssociationsBatchRequest(
                inputs=[PublicFetchAssociationsBatchRequest(id=d.id) for d in page.results]
            ),
        )
        ids = list(dict.fromkeys(str(t.to_object_id) for r in links.results for t in r.to or []))
        for start in range(0, len(ids), BATCH):
            answer: Any = contacts.read(
                BatchReadInputSimplePublicObjectId(
                    inputs=[SimplePublicObjectId(id=i) for i in ids[start : start + BATCH]],
                    properties=contact_properties,
                    properties_with_history=[],
                )
            )
            people += len(answer.results)
        if page.paging is None or page.paging.next is None:
            return deals, people
        if stop_after is not None and deals >= stop_after:
            return deals, people
        last = str(_epoch_ms(page.results[-1].properties.get(modified)))


def _epoch_ms(value: str | None) -> int:
    """HubSpot's datetime property (ISO 8601 or epoch ms) as epoch ms, the filter's unit."""
    text = (value or "").strip()
    if text.isdigit():
        return int(text)
    return round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
