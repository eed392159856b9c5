"""Fixtures for report tests: a one-deal world, dashboard settings, and journey rows.

Test modules import the helpers below as ``reports_conftest`` (tests are not a package and run
with ``--import-mode=importlib``, so this module registers itself under that name).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from werkzeug.security import generate_password_hash

from connector.attribution import MODELS, split_amount, weights
from connector.storage.models import (
    MODEL_COLUMNS,
    Attribution,
    Conversion,
    Deal,
    Lead,
    Person,
    SpendDaily,
    Touchpoint,
    Visitor,
)

sys.modules.setdefault("reports_conftest", sys.modules[__name__])

DASHBOARD_TOKEN = "dash-token-123"
TRIGGER_TOKEN = "test-trigger-token"
USERNAME, PASSWORD = "ana", "correct horse battery"
EVIL = "<script>alert(1)</script>"


def nov(day: int, hour: int = 0) -> datetime:
    """A time in November 2026 (UTC), the month the fixtures live in."""
    return datetime(2026, 11, day, hour, tzinfo=UTC)


@pytest.fixture(scope="session")
def password_hash() -> str:
    """A werkzeug hash of PASSWORD (hashed once: scrypt is deliberately slow)."""
    return generate_password_hash(PASSWORD)


@pytest.fixture
def dashboard_config(password_hash: str) -> dict:
    """Config with every dashboard login way, a GBP rate and the trigger token."""
    return {
        "dashboard": {
            "username": USERNAME,
            "password_hash": password_hash,
            "token": DASHBOARD_TOKEN,
            "secret_key": "s" * 32,
        },
        "server": {"trigger_token": TRIGGER_TOKEN},
        "reports": {"fx_rates": {"GBP": "1.20"}},
    }


@pytest.fixture
def report_app(make_settings, make_app, dashboard_config):
    """The app with dashboard logins configured, on the test database."""
    return make_app(make_settings(dashboard_config))


def attributions(deal_id, amount, currency, close, touches) -> list[Attribution]:
    """A deal's attribution rows as the sync writes them: one per touch, every model's share.

    ``touches`` are (touchpoint ID, time) pairs, oldest first.
    """
    times = [at for _, at in touches]
    columns: dict[str, list[Decimal]] = {}
    for model in MODELS:
        exact = weights(model, times, close_time=close, half_life_days=7)
        weight, revenue = MODEL_COLUMNS[model]
        columns[weight] = split_amount(Decimal(1), exact, Decimal("1e-10"))
        columns[revenue] = split_amount(Decimal(amount), exact)
    return [
        Attribution(
            deal_id=deal_id,
            touchpoint_id=tp_id,
            currency=currency,
            **{name: values[i] for name, values in columns.items()},
        )
        for i, (tp_id, _) in enumerate(touches)
    ]


def add_attributions(session, deal_id, amount, currency, close, touches) -> None:
    """Attribution rows for the deal's touchpoints (objects with ``id`` and ``occurred_at``)."""
    session.add_all(
        attributions(deal_id, amount, currency, close, [(t.id, t.occurred_at) for t in touches])
    )


def seed_small_world(sessions, campaign: str = "Brand") -> None:
    """One Paid Search visitor (campaign ``campaign``) who became a lead and a 1,000 USD deal.

    Known answers (November 2026, last click): Paid Search has 1 visit, 1 lead, 1 won deal,
    revenue 1000, spend 100, ROI 9.0, cost per lead 100; Direct has a visit and no revenue.
    Plus one dead Meta conversion and one accepted Google Ads conversion.
    """
    with sessions.begin() as s:
        s.add(Person(id=1, email_sha256="a" * 64))
        s.add_all([Visitor(id="v1", person_id=1), Visitor(id="v2")])
        s.flush()
        tp = Touchpoint(
            id=1,
            visitor_id="v1",
            occurred_at=nov(2),
            url="https://shop.example/?utm_campaign=x",
            referrer="https://www.google.com/",
            channel="Paid Search",
            source="google",
            medium="cpc",
            campaign=campaign,
            term="acme",
            is_new_session=True,
        )
        s.add_all(
            [
                tp,
                Touchpoint(
                    id=2,
                    visitor_id="v2",
                    occurred_at=nov(3),
                    url="https://shop.example/",
                    channel="Direct",
                    is_new_session=True,
                ),
            ]
        )
        s.add(Lead(person_id=1, visitor_id="v1", kind="form", occurred_at=nov(2, 1)))
        s.add(
            Deal(
                id="D1",
                amount=Decimal("1000"),
                currency="USD",
                created_time=nov(3),
                close_time=nov(10),
                is_won=True,
                is_closed=True,
                contact_ids=["c1"],
                pipeline="default",
                stage="closedwon",
                first_touch_channel="Paid Search",
                last_touch_channel="Paid Search",
                match_status="matched",
            )
        )
        s.flush()
        add_attributions(s, "D1", "1000", "USD", nov(10), [tp])
        s.add(
            SpendDaily(
                platform="google_ads",
                day="2026-11-02",
                campaign_id="g1",
                campaign=campaign,
                keyword_id="k1",
                keyword="acme",
                source="google",
                medium="cpc",
                channel="Paid Search",
                currency="USD",
                cost=Decimal("100"),
                clicks=12,
            )
        )
        for destination, status in (("google_ads", "accepted"), ("meta", "dead")):
            s.add(
                Conversion(
                    deal_id="D1",
                    destination=destination,
                    event_name="purchase",
                    dedup_key=f"D1-{destination}",
                    value=Decimal("1000"),
                    currency="USD",
                    event_time=nov(10),
                    status=status,
                    attempts=8 if status == "dead" else 1,
                    reason_code="HTTP_503" if status == "dead" else None,
                    reason="Service unavailable" if status == "dead" else None,
                )
            )


#: visitor, channel, source, medium, campaign, term, deal amount (None: a lead, no deal)
JOURNEYS = [
    ("v1", "Paid Search", "google", "cpc", "Brand", "acme", "1000"),
    ("v2", "Paid Search", "google", "cpc", "Generic", "shoes", "500"),
    ("v3", "Paid Social", "facebook", "paid_social", "Retarget", None, None),
    ("v4", "Direct", None, None, None, None, None),
]
#: platform, channel, source, medium, campaign, keyword, cost
SPEND = [
    ("google_ads", "Paid Search", "google", "cpc", "Brand", "acme", "100"),
    ("google_ads", "Paid Search", "google", "cpc", "Generic", "shoes", "50"),
    ("meta", "Paid Social", "facebook", "paid_social", "Retarget", None, "30"),
]


def seed_drill_world(sessions) -> None:
    """Three leads on two paid channels, two won deals, spend on the same campaigns."""
    with sessions.begin() as s:
        for i, (vid, channel, source, medium, campaign, term, amount) in enumerate(JOURNEYS, 1):
            s.add(Person(id=i, email_sha256=f"{i:064d}"))
            s.add(Visitor(id=vid, person_id=i))
            s.flush()
            tp = Touchpoint(
                id=i,
                visitor_id=vid,
                occurred_at=nov(2, i),
                url="https://shop.example/",
                channel=channel,
                source=source,
                medium=medium,
                campaign=campaign,
                term=term,
                is_new_session=True,
            )
            s.add(tp)
            if channel == "Direct":
                continue
            s.add(Lead(person_id=i, visitor_id=vid, kind="form", occurred_at=nov(2, i + 1)))
            if amount is None:
                continue
            s.add(
                Deal(
                    id=f"D{i}",
                    amount=Decimal(amount),
                    currency="USD",
                    created_time=nov(3),
                    close_time=nov(10),
                    is_won=True,
                    is_closed=True,
                    contact_ids=[f"c{i}"],
                    pipeline="default",
                    stage="closedwon",
                    match_status="matched",
                )
            )
            s.flush()
            add_attributions(s, f"D{i}", amount, "USD", nov(10), [tp])
        for platform, channel, source, medium, campaign, keyword, cost in SPEND:
            s.add(
                SpendDaily(
                    platform=platform,
                    day="2026-11-02",
                    campaign_id=campaign,
                    campaign=campaign,
                    keyword_id=keyword or "",
                    keyword=keyword,
                    source=source,
                    medium=medium,
                    channel=channel,
                    currency="USD",
                    cost=Decimal(cost),
                    clicks=10,
                )
            )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so a fixture can tell that the test failed.

    The browser tests' ``chromium`` fixture saves screenshots under ``artifacts/`` then.
    """
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
