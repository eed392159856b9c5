"""The lifecycle step: record when each CRM contact entered MQL and SQL, for the reports.

Contacts changed since the stored cursor are pulled page by page; each page's lifecycle events
and the advanced cursor commit together, so a stopped run resumes at the first uncommitted
page. Times are the CRM's own date-entered properties (named by the profile's ``lifecycle``
section), never the time of the pull, so re-pulls are idempotent and late pulls still land
each MQL/SQL on the right day. A dry run does the work and rolls every page back.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.errors import SourceError
from connector.identity import email_key
from connector.mapping import MILESTONES, LifecycleMapping, MappingProfile
from connector.runs import RunContext
from connector.storage.models import LifecycleEvent, utcnow
from connector.sync import pull, store
from connector.sync.deals import parse_time
from connector.sync.lookups import any_of, rows_for
from platforms.crm import CrmContact

log = logging.getLogger(__name__)

CURSOR = "{crm}.contacts.lifecycle"
KEY = ["contact_id", "stage"]


def cursor_name(profile: MappingProfile) -> str:
    """The cursor row for this CRM's contact pull (apart from the deals cursor)."""
    return CURSOR.format(crm=profile.crm)


def lifecycle_rows(
    contact: CrmContact, mapping: LifecycleMapping, problems: Counter[str] | None = None
) -> list[dict[str, Any]]:
    """One row per milestone the contact has a date-entered time for.

    When several stages count as one milestone, the earliest time wins. ``problems`` counts
    what could not be recorded: ``<milestone>_without_time`` (the contact sits in a mapped
    stage but its date property is empty) and ``unparseable_time``. Each row also carries the
    contact's lead-form lead ID (``lifecycle.lead_id``) when the profile maps one; a change to
    it alone rewrites the rows (counted with the changed times).
    """
    rows = []
    person: str | None = None  # hashed at the first row: a contact with none needs no hash
    lead_id = contact.properties.get(mapping.lead_id) if mapping.lead_id else None
    lead_id = (lead_id or "").strip()[:32] or None
    for milestone in MILESTONES:
        stages = mapping.stages(milestone)
        best: tuple[datetime, str] | None = None
        for stage, prop in stages.items():
            try:
                at = parse_time(contact.properties.get(prop))
            except (ValueError, OverflowError, OSError):
                if problems is not None:
                    problems["unparseable_time"] += 1
                continue
            if at is not None and (best is None or at < best[0]):
                best = (at, stage)
        if best is None:
            if problems is not None and contact.lifecycle_stage in stages:
                problems[f"{milestone}_without_time"] += 1
            continue
        if not rows:
            person = email_key(contact.email)
        rows.append(
            {
                "contact_id": contact.id,
                "stage": milestone,
                "crm_stage": best[1][:64],
                "email_sha256": person,
                "entered_at": best[0],
                "crm_lead_id": lead_id,
            }
        )
    return rows


def _newest(page: Iterable[CrmContact]) -> list[CrmContact]:
    """One entry per contact (the newest), so a page never upserts the same key twice."""
    newest: dict[str, CrmContact] = {}
    for contact in page:
        old = newest.get(contact.id)
        if old is None or _modified(contact) >= _modified(old):
            newest[contact.id] = contact
    return list(newest.values())


def _modified(contact: CrmContact) -> datetime:
    return contact.modified_time or datetime.min.replace(tzinfo=UTC)


def write_events(session: Session, rows: list[dict[str, Any]]) -> tuple[Counter[str], int]:
    """Upsert rows that are new or differ from what is stored; (new per milestone, changed).

    Unchanged rows are not written at all, so a re-pull is a read and nothing else. The
    upsert (ON CONFLICT on the contact/stage key) keeps it safe on SQLite and PostgreSQL even
    if a row appeared since the read.
    """
    new: Counter[str] = Counter()
    if not rows:
        return new, 0
    stored: dict[tuple[str, str], tuple[Any, ...]] = {}
    found = rows_for(
        session,
        {r["contact_id"] for r in rows},
        lambda chunk, postgres: select(
            LifecycleEvent.contact_id,
            LifecycleEvent.stage,
            LifecycleEvent.entered_at,
            LifecycleEvent.email_sha256,
            LifecycleEvent.crm_stage,
            LifecycleEvent.crm_lead_id,
        ).where(any_of(LifecycleEvent.contact_id, chunk, postgres)),
    )
    for contact_id, stage, entered_at, email, crm_stage, lead_id in found:
        stored[(contact_id, stage)] = (entered_at, email, crm_stage, lead_id)
    now = utcnow()
    writes, changed = [], 0
    for row in rows:
        before = stored.get((row["contact_id"], row["stage"]))
        now_row = (row["entered_at"], row["email_sha256"], row["crm_stage"], row["crm_lead_id"])
        if before == now_row:
            continue
        if before is None:
            new[row["stage"]] += 1
        else:
            changed += 1
        writes.append({**row, "updated_at": now})
    store.upsert(session, LifecycleEvent.__table__, writes, KEY)
    return new, changed


class LifecycleStep:
    """Pull contacts changed since the cursor and store their MQL/SQL entry times."""

    name = "lifecycle"

    def __init__(
        self,
        *,
        source_factory: pull.SourceFactory | None = None,
        profile: MappingProfile | None = None,
    ) -> None:
        self.source_factory = source_factory or pull.default_source
        self.profile = profile

    def __call__(self, ctx: RunContext) -> None:
        """Run the pull; figures go to ``ctx.counts`` and ``ctx.summary['lifecycle']``."""
        settings = ctx.runtime.settings
        profile = self.profile or ctx.runtime.profile
        summary: dict[str, Any] = {"dry_run": ctx.dry_run}
        counts: Counter[str] = Counter()
        new: Counter[str] = Counter()
        problems: Counter[str] = Counter()
        skipped = self._skip_reason(ctx, profile)
        source: Any = None
        try:
            if skipped is not None:
                summary["skipped"] = skipped
                return
            source = self.source_factory(settings, profile)
            changed_since = getattr(source, "contacts_changed_since", None)
            if changed_since is None:
                summary["skipped"] = f"the {profile.crm} source cannot pull contacts"
                return
            name = cursor_name(profile)
            with ctx.runtime.sessions() as session:
                cursor = store.read_cursor(session, name)
            since = ctx.since if ctx.since is not None else pull.since_from_cursor(cursor)
            stored = [parse_time(cursor)]  # as committed, kept for the run (it holds the lease)
            for page in changed_since(since, progress=self._progress(ctx)):
                self._page(ctx, profile, page, (name, stored), counts, new, problems)
                ctx.heartbeat()
        except SourceError as exc:
            # Rate limit, outage or a rejected request: committed pages stay, the cursor
            # resumes here next run, and the rest of the pipeline (delivery) still runs.
            ctx.failures += 1
            summary["stopped"] = f"{profile.crm}: {exc}"
            log.warning("lifecycle pull stopped early: %s", exc)
        finally:
            counts[f"{profile.crm}_requests"] += pull.requests_made(source) if source else 0
            counts["mqls_recorded"] += new["mql"]
            counts["sqls_recorded"] += new["sql"]
            for key in ("contacts_pulled", "lifecycle_times_changed"):
                counts.setdefault(key, 0)
            for key, value in counts.items():
                ctx.counts[key] = ctx.counts.get(key, 0) + value
            summary["recorded"] = {m: new[m] for m in MILESTONES}
            summary["not_recorded"] = dict(problems)
            ctx.summary["lifecycle"] = summary

    @staticmethod
    def _skip_reason(ctx: RunContext, profile: MappingProfile) -> str | None:
        if ctx.deal_ids is not None:
            return "run for specific deals (webhook fast path)"
        if not profile.lifecycle.is_mapped():
            return "no lifecycle stages mapped (mapping.lifecycle)"
        return None

    @staticmethod
    def _progress(ctx: RunContext) -> Any:
        if ctx.progress is None:
            return None
        progress = ctx.progress

        def report(done: int, total: int | None) -> None:
            progress("lifecycle", done, total)

        return report

    def _page(
        self,
        ctx: RunContext,
        profile: MappingProfile,
        page: list[CrmContact],
        cursor: tuple[str, list[datetime | None]],
        counts: Counter[str],
        new: Counter[str],
        problems: Counter[str],
    ) -> None:
        """Record one page's milestones and advance the cursor, in one transaction.

        The cursor's stored value is kept in memory (``cursor[1]``, updated once a page
        commits) rather than read back in every page's transaction.
        """
        name, stored = cursor
        contacts = _newest(page)
        rows = [r for c in contacts for r in lifecycle_rows(c, profile.lifecycle, problems)]
        counts["contacts_pulled"] += len(contacts)
        times = [c.modified_time for c in contacts if c.modified_time is not None]
        newest = max(times) if times else None
        if newest is not None and stored[0] is not None and newest <= stored[0]:
            newest = None  # the cursor is already past this page
        with store.page_transaction(ctx.runtime.sessions, dry_run=ctx.dry_run) as session:
            added, changed = write_events(session, rows)
            if newest is not None:
                store.write_cursor(session, name, newest.isoformat())
        if newest is not None and not ctx.dry_run:
            stored[0] = newest
        new.update(added)
        counts["lifecycle_times_changed"] += changed
