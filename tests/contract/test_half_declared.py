"""A half-declared destination is refused by planning, never planned with borrowed rules."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest

import platforms
from connector.config import Settings
from connector.mapping import EventRule
from connector.storage.models import utcnow
from connector.sync import windows
from connector.sync.deals import check_deal
from connector.sync.match import MATCHED, Click, Journey, Touch
from connector.sync.plan import PlanSettings, plan_conversions
from platforms.crm import CrmContact, CrmDeal
from tests.contract.half_declared import HalfDeclared

NAME = HalfDeclared.name


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """HalfDeclared in the registry for the test's duration."""
    monkeypatch.setitem(platforms.DESTINATIONS, NAME, "tests.contract.half_declared:HalfDeclared")
    windows.destination_class.cache_clear()
    yield
    windows.destination_class.cache_clear()


def test_planning_names_every_missing_declaration_and_plans_nothing(registered):
    """A journey with a gclid and an email: refused with identified_by, kinds, too_old named."""
    missing = HalfDeclared.undeclared()
    assert missing == ["identified_by", "kinds", "too_old"]
    close = utcnow() - timedelta(days=1)
    contact = CrmContact(id="c1", email="ann@example.com")
    touch = Touch(
        1,
        "v1",
        close,
        "Paid Search",
        "google",
        {"gclid": "g1"},
        "1.1",
        None,
        None,
        None,
        True,
        True,
    )
    journey = Journey("d1", MATCHED, (contact,), [touch], [Click("gclid", "g1", close, 1)], [])
    raw = CrmDeal(
        id="d1",
        modified_time=close,
        amount="10",
        currency="EUR",
        close_date=close.isoformat(),
        contacts=(contact,),
    )
    deal = check_deal(raw, is_won=True, default_currency="EUR", minimum_value=Decimal(0))
    rule = EventRule(name="closed_won", when={"deal_won": True}, platforms={NAME: {}})
    cfg = PlanSettings(Settings(), (NAME,), utcnow())
    plan = plan_conversions(deal, journey, rule, cfg, event_time=close)
    assert plan.rows == []
    assert len(plan.not_planned) == 1
    dest, reason = plan.not_planned[0]
    assert dest == NAME
    assert "missing declarations" in reason
    for declaration in missing:
        assert declaration in reason, reason
