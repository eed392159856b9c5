"""The contract kit's world: one registered destination, its sandbox, a runtime, journeys.

Everything goes through the real code: journeys are planned by ``plan_conversions`` (the
destination's own declarations decide which identifiers a row gets), stored by the sync's
``insert_conversions``, and delivered by ``deliver_due`` through the registered adapter and the
unmodified SDK to the sandbox. Journeys carry every kind of evidence a platform may use (a
click of the destination's first ``click_kinds``, GA client and session IDs, an ``_fbp``,
email, phone, browser context), so no test here names a platform.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from connector.config import Settings
from connector.mapping import EventRule, load_profile
from connector.outbox import deliver_due
from connector.outbox.rows import planned_from_row
from connector.outbox.summary import PlatformSummary
from connector.runtime import Runtime
from connector.storage.models import Base, Conversion, utcnow
from connector.sync import store
from connector.sync.deals import check_deal
from connector.sync.match import MATCHED, Click, Journey, Touch, VisitorInfo
from connector.sync.plan import Plan, PlanSettings, plan_conversions
from platforms.base import Destination, Identifiers, Prepared
from platforms.crm import CrmContact, CrmDeal

#: What every destination sandbox must offer the kit (``platforms.sandbox_kit.protocol``).
REQUIRED = (
    "faults",
    "start",
    "stop",
    "platform_config",
    "requests",
    "accepted",
    "rejected",
    "know_click",
    "fail_item",
    "denied_consent",
    "transient_scope",
    "max_conversion_age",
    "retry_hint_seconds",
)
USER_AGENT = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15"
#: The wait the sandboxes' transient errors ask for (``FaultPlan.retry_after_seconds``).
RETRY_AFTER = 2.0


def missing_capabilities(sandbox: Any) -> list[str]:
    """The protocol members ``sandbox`` lacks."""
    return [name for name in REQUIRED if not hasattr(sandbox, name)]


def click_value(kind: str, n: int) -> str:
    """A click ID of ``kind``: 32 hex characters, valid in every click ID alphabet we know."""
    return hashlib.sha256(f"contract-{kind}-{n}".encode()).hexdigest()[:32]


@dataclass
class World:
    """One destination under test: its class, sandbox, settings and runtime."""

    name: str
    cls: type[Destination[Any]]
    sandbox: Any
    settings: Settings
    runtime: Runtime
    n: int = 0

    # -- journeys ------------------------------------------------------------------------------
    def journey(self, close: datetime, *, consent: bool = True) -> tuple[Any, Journey]:
        """A won deal closed at ``close`` and its journey: one paid visit an hour before."""
        self.n += 1
        i = self.n
        at = close - timedelta(hours=1)
        clicks = [Click(k, click_value(k, i), at, touch_id=i) for k in self.cls.click_kinds[:1]]
        ga_client, ga_session = f"{1000 + i}.1700000000", "1700000000"
        fbp = f"fb.1.1700000000000.{i}"
        touch = Touch(
            i,
            f"v{i}",
            at,
            "Paid Search",
            "google",
            {c.kind: c.value for c in clicks},
            ga_client,
            ga_session,
            None,
            fbp,
            consent,
            consent,
            url="https://shop.example.com/pricing",
        )
        visitor = VisitorInfo(
            f"v{i}", ga_client, ga_session, None, fbp, USER_AGENT, consent, consent, "203.0.113.7"
        )
        contact = CrmContact(id=f"c{i}", email=f"buyer{i}@example.com", phone="+14155550100")
        raw = CrmDeal(
            id=f"contract-{i}",
            modified_time=close,
            amount="1250.00",
            currency="EUR",
            close_date=close.isoformat(),
            contacts=(contact,),
        )
        deal = check_deal(raw, is_won=True, default_currency="EUR", minimum_value=Decimal(0))
        journey = Journey(raw.id, MATCHED, (contact,), [touch], clicks, [visitor])
        return deal, journey

    def journeys(self, count: int, *, age: timedelta = timedelta(days=1)) -> list[Any]:
        """``count`` deals closed ``age`` ago."""
        close = utcnow() - age
        return [self.journey(close) for _ in range(count)]

    # -- planning ------------------------------------------------------------------------------
    def rule(self) -> EventRule:
        """The profile's closed-won rule aimed at this destination, with its options there."""
        won = load_profile(self.settings).won_event()
        assert won is not None
        options = dict(won.platforms.get(self.name) or {})
        return EventRule(name=won.name, when=won.when, platforms={self.name: options})

    def plan(self, deals: list[Any], now: datetime | None = None) -> list[Plan]:
        """Plan every deal for this destination as a sync run at ``now`` would."""
        cfg = PlanSettings(self.settings, (self.name,), now or utcnow())
        rule = self.rule()
        return [
            plan_conversions(deal, journey, rule, cfg, event_time=deal.close_time)
            for deal, journey in deals
        ]

    def store(self, plans: list[Plan]) -> list[str]:
        """Insert the planned rows as the sync does; the dedup keys of the rows that were new.

        The clicks the rows carry are made known to the platform first.
        """
        rows = [row for plan in plans for row in plan.rows]
        for row in rows:
            click = Identifiers.from_json(row["identifiers"]).click
            if click is not None and click.time is not None:
                self.sandbox.know_click(click.kind, click.value, click.time)
        with self.runtime.sessions.begin() as session:
            existing = store.existing_rows(session, sorted({r["deal_id"] for r in rows}))
            new = store.insert_conversions(session, rows, 0, existing)
        return [r["dedup_key"] for r in new]

    def planned(self, count: int, **age: Any) -> list[str]:
        """Plan and store ``count`` sendable conversions; their dedup keys."""
        plans = self.plan(self.journeys(count, **age))
        keys = self.store(plans)
        assert len(keys) == count, [p.not_planned for p in plans if not p.rows][:3]
        return keys

    # -- delivery and what came of it ----------------------------------------------------------
    def deliver(self, **options: Any) -> PlatformSummary:
        """One delivery pass for this destination; its summary."""
        summary = deliver_due(self.runtime, only=[self.name], **options)
        return summary.platforms[self.name]

    def rows(self) -> dict[str, Conversion]:
        """The outbox by dedup key."""
        with self.runtime.sessions() as session:
            return {r.dedup_key: r for r in session.scalars(select(Conversion))}

    def platform_keys(self) -> dict[str, str]:
        """Our dedup key of each outbox row, by the key the platform holds it under.

        The destination's ``platform_key`` of each row as prepared now; most platforms hold our
        dedup key itself, one that never receives it (Microsoft) its own identity.
        """
        destination = self.cls(getattr(self.settings.platforms, self.name))
        keys: dict[str, str] = {}
        with self.runtime.sessions() as session:
            for row in session.scalars(select(Conversion)):
                prepared = destination.prepare(planned_from_row(row), utcnow())
                if isinstance(prepared, Prepared):
                    keys[destination.platform_key(prepared)] = row.dedup_key
        return keys

    def kept(self) -> list[str]:
        """Our dedup keys of what the platform kept, one entry per item it kept."""
        ours = self.platform_keys()
        return [ours.get(str(item["key"]), str(item["key"])) for item in self.sandbox.accepted]

    def refusals(self, key: str) -> list[dict[str, Any]]:
        """What the platform said when it refused the row with our dedup key ``key``."""
        ours = self.platform_keys()
        return [
            item
            for item in self.sandbox.rejected
            if ours.get(str(item.get("key")), str(item.get("key"))) == key
        ]

    def fail_item(self, key: str, *, permanent: bool) -> None:
        """Have the platform fail the row with our dedup key ``key`` (under its own key)."""
        theirs = {ours: platform for platform, ours in self.platform_keys().items()}
        self.sandbox.fail_item(theirs.get(key, key), permanent=permanent)

    def snapshot(self) -> dict[str, list[str]]:
        """Every table's rows as sorted text."""
        out: dict[str, list[str]] = {}
        with self.runtime.engine.connect() as conn:
            for table in Base.metadata.sorted_tables:
                out[table.name] = sorted(repr(tuple(r)) for r in conn.execute(select(table)))
        return out


def require(sandbox: Any, name: str) -> None:
    """Fail (never skip) when the sandbox lacks what the kit needs, saying what to implement."""
    missing = missing_capabilities(sandbox)
    if missing:
        pytest.fail(
            f"the {name} sandbox ({type(sandbox).__name__}) lacks {', '.join(missing)}: "
            "implement them as platforms/sandbox_kit/protocol.py DestinationSandbox declares"
        )
