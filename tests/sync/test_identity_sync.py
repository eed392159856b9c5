"""The sync hashes CRM contacts as the platforms' own normalisers do, and counts what it drops.

Through the HubSpot sandbox: a tagged Gmail address and a '00'-prefixed phone reach the
outbox in Google's and Meta's forms (their own libraries are the expected side); a contact's
unusable email and phone are left out with a counted reason, and the run still succeeds.
"""

from __future__ import annotations

from datetime import timedelta

from facebook_business.adobjects.serverside.normalize import Normalize
from google.ads.datamanager_util import Encoding, Formatter

from connector.sync.hashing import EMAIL_DROPPED, PHONE_DROPPED
from tests.sync.conftest import NOW, outbox, won_deal

TYPED = "Ann.Lee+promo@gmail.com"
PHONE = "0044 20 7946 0958"  # a UK number typed for a site whose default region is the US


def test_contacts_hash_as_google_and_meta_normalise(hubspot, seed, sync, sync_runtime):
    """Google gets the folded Gmail form and E.164; Meta the typed address and digits."""
    ann = hubspot.add_contact({"email": TYPED, "phone": PHONE})
    broken = hubspot.add_contact({"email": "+promo@gmail.com", "phone": "12345"})  # no inbox
    person = seed.person(TYPED)
    visitor = seed.visitor(person)
    seed.touch(visitor, NOW - timedelta(days=5), click=("gclid", "G-1"))
    seed.touch(visitor, NOW - timedelta(days=4), click=("fbclid", "FB-1"))
    won_deal(hubspot, [ann, broken])

    assert sync() == "succeeded"
    rows = {r[1]: r[9] for r in outbox(sync_runtime)}
    formatter = Formatter()
    assert rows["google_ads"]["email_sha256"] == [
        formatter.process_email_address("annlee@gmail.com", Encoding.HEX)
    ]
    assert rows["google_ads"]["phone_sha256"] == [
        formatter.process_phone_number("+442079460958", Encoding.HEX)
    ]
    assert rows["meta"]["email_sha256"] == [Normalize.normalize_field("em", TYPED)]
    assert rows["meta"]["phone_sha256"] == [Normalize.normalize_field("ph", PHONE)]
    assert sync.last["summary"]["sync"]["identifiers_dropped"] == {
        EMAIL_DROPPED: 1,
        PHONE_DROPPED: 1,
    }
