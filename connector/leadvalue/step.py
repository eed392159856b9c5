"""The lead-value step: relearn the day's values, then plan every new lead-stage entry at once.

Runs after the sync and lifecycle steps, so the deals and MQL/SQL times it learns from and
reacts to are the ones just pulled. Values are learned once per UTC day. Every new stage entry
(a person's first lead on the site, or the CRM moving a contact to MQL or SQL) within
``lead_values.send_within_days`` is planned in one transaction with its prediction row: the
prediction is the marker that the entry was planned, so a re-run (or a resumed crash) plans
nothing twice, and the outbox's unique dedup key backs that up.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import platforms
from connector.leadvalue import cohort, learn
from connector.leadvalue import store as values_store
from connector.leadvalue.plan import deal_id, plan_entry
from connector.mapping import EventRule, MappingProfile
from connector.runs import RunContext
from connector.storage.models import LeadPrediction, NotPlanned, Person, utcnow
from connector.sync import store
from connector.sync.match import DealToMatch, Journey, Matcher
from connector.sync.plan import PlanSettings
from platforms.crm import CrmContact

log = logging.getLogger(__name__)
#: Stage entries this far in the future (clock skew) are still taken.
SKEW = timedelta(minutes=5)
CHUNK = 500
NOT_PLANNED_COLUMNS = ("deal_id", "destination", "what", "reason", "event_time", "updated_at")


class LeadValueStep:
    """Learn lead values and send new stage entries with them (off unless the profile says)."""

    name = "lead_values"

    def __init__(
        self,
        *,
        now: Callable[[], datetime] | None = None,
        profile: MappingProfile | None = None,
    ) -> None:
        self.now = now or utcnow
        self.profile = profile

    def __call__(self, ctx: RunContext) -> None:
        """Learn, then plan; figures go to ``ctx.counts`` and ``ctx.summary['lead_values']``."""
        profile = self.profile or ctx.runtime.profile
        summary: dict[str, Any] = {"dry_run": ctx.dry_run}
        counts: Counter[str] = Counter(lead_conversions_planned=0, lead_stage_entries=0)
        try:
            if not profile.lead_values.enabled:
                summary["skipped"] = "lead_values.enabled is false in the mapping profile"
                return
            if ctx.deal_ids is not None:
                summary["skipped"] = "run for specific deals (webhook fast path)"
                return
            with store.page_transaction(ctx.runtime.sessions, dry_run=ctx.dry_run) as session:
                self._run(ctx, session, profile, counts, summary)
        finally:
            for key, value in counts.items():
                ctx.counts[key] = ctx.counts.get(key, 0) + value
            ctx.summary["lead_values"] = summary

    def _run(
        self,
        ctx: RunContext,
        session: Session,
        profile: MappingProfile,
        counts: Counter[str],
        summary: dict[str, Any],
    ) -> None:
        settings = ctx.runtime.settings
        cfg = profile.lead_values
        currency = (cfg.currency or settings.currency).upper()
        now = self.now()
        ignore_direct = settings.attribution.ignore_direct
        day = learn.learned_on(now)
        if values_store.latest_day(session) != day:
            learned = learn.learn(session, cfg, currency, now, ignore_direct=ignore_direct)
            values_store.save(
                session, learned, day=day, currency=currency, window_days=cfg.window_days, now=now
            )
            counts["lead_values_learned"] += len(learned)
        values = values_store.Values(session, day)
        rules: dict[str, list[EventRule]] = {}
        for rule in profile.lead_events():
            rules.setdefault(rule.lead_stage() or "", []).append(rule)
        since = now - timedelta(days=cfg.send_within_days)
        found = [
            e
            for e in cohort.entries(session, since, now + SKEW, ignore_direct=ignore_direct)
            if e.stage in rules
        ]
        new = cohort.with_lead_ids(session, _unplanned(session, found))
        counts["lead_stage_entries"] += len(new)
        if not new:
            return
        destinations = tuple(
            n for n in settings.platforms.enabled() if n not in platforms.CRM_SOURCES
        )
        plan_cfg = PlanSettings(settings, destinations, now)
        journeys = _journeys(session, new, settings.attribution.lookback_days)
        outbox: list[dict[str, Any]] = []
        not_planned: list[tuple[Any, ...]] = []
        skipped: Counter[str] = Counter()
        for entry in new:
            chosen = values.choose(entry.stage, entry.channel, entry.campaign)
            sent_value = None
            planned = 0
            for rule in rules[entry.stage]:
                plan = plan_entry(entry, journeys[entry], rule, chosen, currency, plan_cfg)
                sent_value = sent_value if sent_value is not None else plan.value
                outbox += plan.rows
                planned += len(plan.rows)
                got = {r["destination"] for r in plan.rows}
                for dest, reason in plan.not_planned:
                    if dest not in got:
                        skipped[reason] += 1
                        not_planned.append(
                            (
                                deal_id(entry),
                                dest,
                                rule.name[:64],
                                reason[:255],
                                entry.entered_at,
                                now,
                            )
                        )
            session.add(
                LeadPrediction(
                    lead_key=entry.lead_key,
                    stage=entry.stage,
                    person_id=entry.person_id,
                    contact_id=entry.contact_id,
                    entered_at=entry.entered_at,
                    channel=entry.channel[:64],
                    campaign=entry.campaign[:255],
                    value=sent_value,
                    currency=currency,
                    lead_value_id=chosen.lead_value_id if chosen is not None else None,
                    rows_planned=planned,
                    created_at=now,
                )
            )
        session.flush()
        existing = store.existing_rows(session, sorted({r["deal_id"] for r in outbox}))
        inserted = store.insert_conversions(session, outbox, ctx.run_id, existing)
        store.upsert_rows(
            session,
            NotPlanned.__table__,
            NOT_PLANNED_COLUMNS,
            _unique_not_planned(not_planned),
            ["deal_id", "destination", "what"],
        )
        counts["lead_conversions_planned"] += len(inserted)
        if ctx.dry_run:
            # The rollback drops them: keep them for the deliver step to validate, as the
            # sync does with its own rows.
            from connector.sync.step import _keep_unsaved

            _keep_unsaved(ctx, inserted)
        summary["not_planned"] = dict(skipped)


def _unique_not_planned(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """One reason per (deal, destination, rule): an upsert may not touch a key twice."""
    return list({r[:3]: r for r in reversed(rows)}.values())


def _unplanned(session: Session, found: list[cohort.StageEntry]) -> list[cohort.StageEntry]:
    """The entries without a prediction yet (each planned once, whatever the re-runs)."""
    keys = sorted({e.lead_key for e in found})
    done: set[tuple[str, str]] = set()
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        done.update(
            (key, stage)
            for key, stage in session.execute(
                select(LeadPrediction.lead_key, LeadPrediction.stage).where(
                    LeadPrediction.lead_key.in_(chunk)
                )
            )
        )
    return [e for e in found if (e.lead_key, e.stage) not in done]


def _journeys(
    session: Session, entries: list[cohort.StageEntry], lookback_days: int
) -> dict[cohort.StageEntry, Journey]:
    """Each entry's journey up to the moment it entered the stage, found like a deal's."""
    person_ids = sorted({e.person_id for e in entries if e.person_id is not None})
    people: dict[int, tuple[str | None, str | None]] = {}
    for start in range(0, len(person_ids), CHUNK):
        chunk = person_ids[start : start + CHUNK]
        for pid, email, phone in session.execute(
            select(Person.id, Person.email, Person.phone_e164).where(Person.id.in_(chunk))
        ):
            people[pid] = (email, phone)
    to_match: dict[str, tuple[cohort.StageEntry, DealToMatch]] = {}
    for entry in entries:
        email, phone = (
            people.get(entry.person_id, (None, None)) if entry.person_id else (None, None)
        )
        contacts: tuple[CrmContact, ...] = ()
        if entry.person_id is not None or entry.contact_id:
            contact_id = entry.contact_id or f"person-{entry.person_id}"
            contacts = (CrmContact(id=contact_id, email=email, phone=phone),)
        key = f"{entry.lead_key}:{entry.stage}"
        to_match[key] = (entry, DealToMatch(key, entry.entered_at, contacts))
    found = Matcher(session, lookback_days).match([m for _, m in to_match.values()])
    return {entry: found[key] for key, (entry, _) in to_match.items()}
