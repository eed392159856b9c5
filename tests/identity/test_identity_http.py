"""/identify applies the same email and phone rules as the sync.

A tag-only Gmail address is a 400 naming ``email``; a '00'-prefixed phone is stored in E.164;
an unparseable phone is a 400 naming ``phone``.
"""

from __future__ import annotations

from sqlalchemy import func, select

from connector.identity import email_key
from connector.storage.models import Person

VISITOR = "laptop-0000000001"


def test_identify_uses_googles_form_and_reads_00_as_international(client, runtime):
    """The person is keyed by the folded Gmail address; the UK number is kept as E.164."""
    body = {
        "visitor_id": VISITOR,
        "email": "John.Doe+promo@gmail.com",
        "phone": "0044 20 7946 0958",
    }
    assert client.post("/identify", json=body).status_code == 202
    with runtime.sessions() as session:
        person = session.scalars(select(Person)).one()
    assert person.email_sha256 == email_key("johndoe@gmail.com")
    assert person.phone_e164 == "+442079460958"


def test_addresses_and_phones_that_normalise_to_nothing_are_400s(client, runtime):
    """Never a 5xx, never a stored hash of garbage: the field is named in the JSON error."""
    for body, field in (
        ({"visitor_id": VISITOR, "email": "+promo@gmail.com"}, "email"),
        ({"visitor_id": VISITOR, "email": "a@b.example", "phone": "0044 12"}, "phone"),
    ):
        response = client.post("/identify", json=body)
        assert response.status_code == 400, body
        error = response.get_json()
        assert error["error"] and field in str(error["detail"]), error
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Person)) == 0
