"""The hostile corpus through /collect and /identify: no 5xx, valid parts stored, the rest named.

Run with ``CLOSEDLOOP_TEST_DATABASE_URL`` set to run the same corpus on PostgreSQL.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import String, select

from connector.storage.models import Person, Touchpoint, Visitor
from tests.tracking.hostile_corpus import CASES, VISITOR, Case

AUTH = {"Authorization": "Bearer test-trigger-token"}


def _fits(row: object) -> None:
    """Every string column of ``row`` is free of NULs and within its declared length."""
    for column in type(row).__table__.columns:
        value = getattr(row, column.key)
        if isinstance(value, str):
            assert "\x00" not in value, column.name
            if isinstance(column.type, String) and column.type.length:
                assert len(value) <= column.type.length, column.name


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_hit(make_client, case: Case):
    """Each corpus case gets its expected answer and stores only what fits its columns."""
    client, runtime = make_client(
        {"platforms": {"hubspot": {"enabled": False}}, "tracking": {"store_plain_email": True}}
    )
    body = json.dumps(case.body)  # ensure_ascii: lone surrogates travel as \\ud800 escapes
    response = client.post(
        case.path, data=body, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == case.status, response.get_data(as_text=True)
    if case.status == 400:
        fields = [problem["field"] for problem in response.get_json()["detail"]]
        assert case.rejects in fields, fields
        return
    with runtime.sessions() as session:
        if case.path == "/collect":
            [row] = session.scalars(select(Touchpoint)).all()
            _fits(session.get(Visitor, VISITOR))
        else:
            [row] = session.scalars(select(Person)).all()
        _fits(row)
        for name, expected in case.stored.items():
            assert getattr(row, name) == expected, name
