"""The sync step: pull changed deals page by page, match, attribute, plan into the outbox.

Each page's writes are one transaction: deal states, stage events, attributions, outbox rows,
the forgotten webhook IDs and the advanced cursor commit together, so a crash anywhere resumes
at the first uncommitted page and re-plans the same dedup keys. A page is planned from what the
pages before it committed, and written while the next one is fetched. A dry run does all the
work and reports what it would plan, keeps the page's new outbox rows in memory for the
deliver step to validate with each platform, then rolls the page back: nothing stored changes.
"""

from __future__ import annotations

import gc
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy.orm import Session, sessionmaker

from connector import health
from connector.config import Settings
from connector.errors import RetryableSourceError, SourceError
from connector.mapping import MappingProfile
from connector.runs import RunContext
from connector.storage.db import held_sessions
from connector.storage.models import Conversion, Deal, DealStageEvent, NotPlanned, utcnow
from connector.sync import hashing, lookups, pull, store
from connector.sync.attributions import AttributionRow, attribution_rows, touch_summary
from connector.sync.deals import (
    NEW_WON,
    NO_CONTACTS,
    RESTATE,
    RETRACT,
    CheckedDeal,
    PriorState,
    check_deal,
    parse_time,
    recurring_amount,
    won_change,
)
from connector.sync.learned import LearnedCredit, LearnedOnDemand, learn_for_run
from connector.sync.match import NEVER_TRACKED, OUTSIDE_WINDOW, DealToMatch, Journey, Matcher
from connector.sync.plan import (
    ExistingRow,
    Plan,
    PlanSettings,
    plan_conversions,
    plan_restatements,
    plan_retractions,
    rule_fires,
)
from connector.sync.stages import StageBook, store_pipelines
from platforms.base import CONVERSION, RESTATEMENT, RETRACTION
from platforms.crm import CrmDeal, CrmSource

log = logging.getLogger(__name__)
#: Pages between garbage collections during a sync (see ``SyncStep.__call__``).
GC_EVERY_PAGES = 10
WRITER_THREAD = "closedloop-sync-writer"


@dataclass
class SyncTotals:
    """Figures of one sync, copied into the run's counts and summary."""

    counts: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    match: Counter[str] = field(default_factory=Counter)
    not_planned: dict[str, Counter[str]] = field(default_factory=dict)
    dropped: Counter[str] = field(default_factory=Counter)  # contacts' unusable emails/phones

    def note(self, destination: str, reason: str) -> None:
        """Count a conversion not planned for ``destination`` with its reason."""
        self.not_planned.setdefault(destination, Counter())[reason] += 1


@dataclass
class _Cursor:
    """The pull cursor as committed, kept in memory for the run (one reader, one writer)."""

    stored: datetime | None


class MatchedPage(NamedTuple):
    """A page's checked deals and journeys, before their stored state is read."""

    checked: list[CheckedDeal]
    firing: dict[str, list[Any]]  # deal ID -> the non-won rules that fire for it
    blocked: set[str]  # deals whose bad data stops them from planning
    journeys: dict[str, Journey]


class PlannedPage(NamedTuple):
    """What planning a page produced, for the page's writes."""

    outbox: list[dict[str, Any]]
    deals: list[tuple[Any, ...]]  # in DEAL_COLUMNS order
    attributions: list[AttributionRow]
    attributed_deals: list[str]
    prior: dict[str, Any]  # the stored rows of the deals seen before, by ID
    existing: dict[str, list[ExistingRow]]
    not_planned: list[tuple[Any, ...]]  # in NOT_PLANNED_COLUMNS order
    now_planned: list[tuple[str, str, str]]  # (deal, destination, what) that got rows now


class SyncStep:
    """Pull → match → attribute → plan, under the run's lease."""

    name = "sync"
    #: Where the step's figures go in the run summary.
    summary_key = "sync"

    def __init__(
        self,
        *,
        source_factory: pull.SourceFactory | None = None,
        now: Callable[[], datetime] | None = None,
        profile: MappingProfile | None = None,
    ) -> None:
        self.source_factory = source_factory or pull.default_source
        self.now = now or utcnow
        self.profile = profile

    def __call__(self, ctx: RunContext) -> None:
        """Run the sync; figures go to ``ctx.counts`` and ``ctx.summary['sync']``.

        The garbage collector is kept out of the pages. A page allocates hundreds of thousands
        of rows and tuples that reference counting frees as soon as the page is written, but
        each automatic collection in between traverses all of them, and the heap that was
        alive before the sync (SDKs, SQLAlchemy, the app) as well: about a fifth of a sync's
        own time. So that heap is frozen, automatic collection paused, and a collection runs
        every ``GC_EVERY_PAGES`` pages, between pages, when little is alive; cyclic garbage
        (sessions, SDK objects) is freed there, so memory stays flat. What the first of those
        collections keeps (some 50,000 objects the run's start made) is frozen too, so each
        later one walks only what the pages since left behind. Both settings are
        process-wide, and restored afterwards whatever happens.
        """
        was_enabled = gc.isenabled()
        gc.freeze()
        gc.disable()
        try:
            self._sync(ctx)
        finally:
            if was_enabled:
                gc.enable()
            gc.unfreeze()

    # -- what a step over another revenue source (``connector.revenue``) overrides ----------
    def _source(self, ctx: RunContext, settings: Settings, profile: MappingProfile) -> CrmSource:
        """Where the deals come from: the profile's CRM."""
        return self.source_factory(settings, profile)

    def _origin(self, profile: MappingProfile) -> str:
        """The name the source's health, errors and request count go under."""
        return profile.crm

    def _cursor_name(self, profile: MappingProfile) -> str:
        """The cursor row of the source's incremental pull."""
        return pull.cursor_name(profile)

    def _pending_prefix(self, profile: MappingProfile) -> str:
        """The cursor-name prefix of deal IDs remembered for the next run."""
        return pull.pending_prefix(profile)

    def _sync(self, ctx: RunContext) -> None:
        settings = ctx.runtime.settings
        profile = self.profile or ctx.runtime.profile
        source = self._source(ctx, settings, profile)
        origin = self._origin(profile)
        totals = SyncTotals()
        now = self.now()

        def learn() -> LearnedCredit:
            with ctx.runtime.sessions() as session:
                return learn_for_run(session, settings, now)

        learned = LearnedOnDemand(learn)  # learnt at the first page that splits a deal
        cfg = PlanSettings(
            settings,
            tuple(n for n in settings.platforms.enabled() if n != profile.crm),
            now,
            learned,
        )
        summary: dict[str, Any] = {"dry_run": ctx.dry_run, "destinations": list(cfg.destinations)}
        try:
            pipelines = source.pipelines()
            book = StageBook.build(profile, pipelines)
            if not ctx.dry_run:
                with ctx.runtime.sessions.begin() as session:
                    store_pipelines(session, profile, pipelines)
            self._run_pages(ctx, source, profile, book, cfg, totals)
        except RetryableSourceError as exc:
            # Rate limit or outage: committed pages stay, the cursor resumes here next run.
            ctx.failures += 1
            summary["stopped"] = f"{origin}: {exc}"
            log.warning("sync stopped early: %s", exc)
            self._health(ctx, origin, str(exc))
        except SourceError as exc:  # credentials, scopes, bad data: a human must act
            summary["stopped"] = f"{origin}: {exc}"
            self._health(ctx, origin, str(exc))
            raise
        else:
            self._health(ctx, origin, None)
        finally:
            totals.counts[f"{origin}_requests"] += pull.requests_made(source)
            for key in (
                "deals_pulled",
                "deals_won",
                "deals_skipped",
                "conversions_planned",
                "restatements_planned",
                "retractions_planned",
            ):
                totals.counts.setdefault(key, 0)
            for key, value in totals.counts.items():
                ctx.counts[key] = ctx.counts.get(key, 0) + value
            summary["skipped"] = dict(totals.skipped)
            summary["match"] = dict(totals.match)
            summary["not_planned"] = {d: dict(c) for d, c in totals.not_planned.items()}
            summary["identifiers_dropped"] = dict(totals.dropped)
            summary["data_driven"] = learned.summary
            ctx.summary[self.summary_key] = summary

    def _health(self, ctx: RunContext, crm: str, error: str | None) -> None:
        """Record the pull's outcome for readiness, metrics and the banner (not in a dry run)."""
        if error is not None:
            ctx.errors[crm] = error
        if ctx.dry_run:
            return
        sessions, ok = ctx.runtime.sessions, error is None
        health.record(sessions, crm, ok=ok, error=error, now=utcnow(), run_id=ctx.run_id)

    # -- paging ---------------------------------------------------------------------------
    def _pages(
        self, ctx: RunContext, source: CrmSource, profile: MappingProfile
    ) -> Iterator[tuple[list[CrmDeal], bool, list[str]]]:
        """(page, advances the cursor, remembered IDs it settles)."""
        prefix = self._pending_prefix(profile)
        with ctx.runtime.sessions() as session:
            remembered = store.pending_ids(session, prefix)
            cursor = store.read_cursor(session, self._cursor_name(profile))
        if ctx.deal_ids is not None:
            wanted = sorted(set(ctx.deal_ids) | set(remembered))
            for page in pull.pages_by_id(source, wanted):
                yield page, False, [d for d in remembered if d in {p.id for p in page}] or []
            if remembered:
                yield [], False, remembered  # settle remembered IDs the CRM no longer has
            return
        if remembered:
            for page in pull.pages_by_id(source, remembered):
                yield page, False, []
            yield [], False, remembered
        since = ctx.since if ctx.since is not None else pull.since_from_cursor(cursor)
        report = None
        if ctx.progress is not None:
            progress = ctx.progress

            def report(done: int, total: int | None) -> None:
                progress("sync", done, total)

        for page in source.deals_changed_since(since, progress=report):
            yield page, True, []

    def _run_pages(
        self,
        ctx: RunContext,
        source: CrmSource,
        profile: MappingProfile,
        book: StageBook,
        cfg: PlanSettings,
        totals: SyncTotals,
    ) -> None:
        """Plan each page here, and write it while the next page is fetched and matched.

        On PostgreSQL a page's writes and commit go to a writer thread (see ``_writer``), and
        the CRM request for the next page, the matching of its deals and its planning run
        meanwhile: the database's share of a page (index updates, the commit) overlaps work
        instead of adding to it. Matching reads only what the sync never writes (people,
        visitors, touchpoints, clicks), and a page's writes touch only its own deals, so the
        next page's stored state can be read before they commit, unless the two pages share
        a deal: then it is read after. Pages commit one at a time, in order, so a crash still
        resumes at the first uncommitted page. A failed write fails the run at the next page.
        """
        pending: Future[Counter[str]] | None = None
        with ctx.runtime.sessions() as session:
            cursor = _Cursor(parse_time(store.read_cursor(session, self._cursor_name(profile))))
        engine = ctx.runtime.engine
        with (
            held_sessions(engine, read_only=True) as reads,
            held_sessions(engine) as writes,
            _writer(engine.dialect.name) as writer,
        ):
            try:
                pages = self._pages(ctx, source, profile)
                written: set[str] = set()  # the deal IDs of the page being written
                for done, (page, advance, settled) in enumerate(pages, start=1):
                    ids = {d.id for d in page}
                    try:
                        with reads() as session:
                            lookups.index_lookups_for_reads(session)
                            # Matching reads nothing a sync writes, and planning reads only
                            # the page's own deals: both overlap the previous page's writes,
                            # unless that page holds some of these deals, whose stored state
                            # must then be read once it has committed. (Each PostgreSQL
                            # statement sees what is committed when it starts; on SQLite the
                            # writes ran before this session.)
                            matched = self._match_page(session, page, profile, book, cfg, totals)
                            learns = _learns(cfg, matched)
                            if pending is not None and (not ids.isdisjoint(written) or learns):
                                # The page's stored state, or the fit about to be learned
                                # from the whole store, must see the previous page committed.
                                _settle(pending, totals)
                                pending = None
                            if learns:
                                cfg.learned.ensure()
                            planned = self._plan_page(session, matched, profile, cfg, totals)
                    finally:
                        hashing.forget()  # the per-page memo of email hashes
                    if pending is not None:
                        _settle(pending, totals)  # pages commit one at a time, in order
                        pending = None
                    ctx.heartbeat()
                    if done % GC_EVERY_PAGES == 0:
                        gc.collect()  # between pages: little is alive
                        if done == GC_EVERY_PAGES:
                            # What survives now was built by the run's start and lives to
                            # its end (the CRM client, SDKs imported on first use, statement
                            # caches, the fit): later collections need not walk it again.
                            gc.freeze()
                    written = ids
                    pending = writer.submit(
                        self._commit_page,
                        ctx,
                        writes,
                        page,
                        planned,
                        (advance, cursor),
                        settled,
                        profile,
                    )
            finally:
                if pending is not None:  # committed (or its error raised) before the run goes on
                    _settle(pending, totals)
        ctx.heartbeat()

    def _commit_page(
        self,
        ctx: RunContext,
        writes: sessionmaker[Session],
        page: list[CrmDeal],
        planned: PlannedPage,
        advance: tuple[bool, _Cursor],
        settled: list[str],
        profile: MappingProfile,
    ) -> Counter[str]:
        """The page's writes and the advanced cursor, in one transaction (rolled back if dry).

        Runs on the writer thread; returns the outbox rows added, by kind.
        """
        moves, cursor = advance
        newest = max((d.modified_time for d in page), default=None) if moves else None
        if newest is not None and cursor.stored is not None and newest <= cursor.stored:
            newest = None  # the cursor is already past this page
        with store.page_transaction(writes, dry_run=ctx.dry_run) as session:
            inserted = self._write_page(session, page, planned, ctx.run_id)
            store.forget_ids(session, self._pending_prefix(profile), settled)
            if newest is not None:
                store.write_cursor(session, self._cursor_name(profile), newest.isoformat())
        if newest is not None and not ctx.dry_run:
            cursor.stored = newest
        if ctx.dry_run:
            _keep_unsaved(ctx, inserted)
        return Counter(r["kind"] for r in inserted)

    def _write_page(
        self,
        session: Any,
        page: list[CrmDeal],
        planned: PlannedPage,
        run_id: int,
    ) -> list[dict[str, Any]]:
        """The page's deal states, stage events, attributions and outbox rows (the new ones).

        Rows of deals new to the store cannot collide with anything stored (the run holds the
        lease, and a deal's rows are written with it), so they go in by plain insert (COPY on
        PostgreSQL); only the deals seen before need the conflict handling of an upsert.
        """
        prior = planned.prior
        deals = Deal.__table__
        store.insert_new(
            session, deals, DEAL_COLUMNS, [r for r in planned.deals if r[0] not in prior]
        )
        store.upsert_rows(
            session, deals, DEAL_COLUMNS, [r for r in planned.deals if r[0] in prior], ["id"]
        )
        new_events: dict[tuple[str, str], tuple[Any, ...]] = {}
        changed_events: list[tuple[Any, ...]] = []
        for d in page:
            if not d.stage:
                continue
            # The CRM's own time of entering the stage when it keeps one, else the change's.
            event = (d.id, d.pipeline, d.stage, d.stage_entered.get(d.stage, d.modified_time))
            if d.id not in prior:
                new_events.setdefault((d.id, d.stage), event)  # the first sighting wins
            elif prior[d.id][2] != d.stage:  # same stage as stored: its event is stored too
                changed_events.append(event)
        table = DealStageEvent.__table__
        store.insert_new(session, table, EVENT_COLUMNS, list(new_events.values()))
        store.insert_ignore(session, table, EVENT_COLUMNS, changed_events, ["deal_id", "stage"])
        # Deals never stored before have no attribution rows to replace.
        seen_before = [d for d in planned.attributed_deals if d in prior]
        store.replace_attributions(session, seen_before, planned.attributions)
        inserted = store.insert_conversions(session, planned.outbox, run_id, planned.existing)
        # Why nothing was planned, per deal and destination; a later plan that did send
        # (the deal won again, with a click this time) replaces the old reason.
        table = NotPlanned.__table__
        keys = ["deal_id", "destination", "what"]
        store.delete_keys(session, table, keys, [k for k in planned.now_planned if k[0] in prior])
        store.upsert_rows(session, table, NOT_PLANNED_COLUMNS, planned.not_planned, keys)
        return inserted

    def _match_page(
        self,
        session: Any,
        page: list[CrmDeal],
        profile: MappingProfile,
        book: StageBook,
        cfg: PlanSettings,
        totals: SyncTotals,
    ) -> MatchedPage:
        """Check the page's deals and find their journeys: nothing here reads what a sync writes.

        Which deals are blocked (bad data where it would matter) does not depend on their
        stored state either: a new win needs the deal won, and a won deal with bad data is
        blocked whatever was stored.
        """
        settings: Settings = cfg.settings
        other_rules = [r for r in profile.events if not r.is_deal_won()]
        checked = [
            check_deal(
                d,
                is_won=book.is_won(d),
                default_currency=settings.currency,
                minimum_value=settings.minimum_value,
            )
            for d in _unique(page)
        ]
        firing: dict[str, list[Any]] = {}
        for deal in checked:
            rules = [r for r in other_rules if rule_fires(r, deal)]
            if rules:
                firing[deal.id] = rules
        totals.counts["deals_pulled"] += len(checked)
        totals.counts["deals_won"] += sum(1 for d in checked if d.is_won)
        blocked = {
            d.id
            for d in checked
            if (d.is_won and d.problem is not None) or (d.id in firing and not d.raw.contacts)
        }
        for deal in checked:
            if deal.id in blocked and deal.problem is not None:
                totals.counts["deals_skipped"] += 1
                totals.skipped[deal.problem.code] += 1
        # Every deal read is matched, won or not, even when it plans nothing: open and lost
        # deals are the opportunities the reports split by source, a won deal's journey may
        # have grown (a late identify), and a backfill is how a user refreshes the attribution
        # behind the reports after changing its settings.
        to_match = [d for d in checked if d.id not in blocked]
        journeys = Matcher(session, settings.attribution.lookback_days).match(
            [
                DealToMatch(d.id, d.close_time or d.raw.modified_time, d.raw.contacts)
                for d in to_match
            ]
        )
        for journey in journeys.values():
            totals.match[journey.status] += 1
        return MatchedPage(checked, firing, blocked, journeys)

    def _plan_page(
        self,
        session: Any,
        matched: MatchedPage,
        profile: MappingProfile,
        cfg: PlanSettings,
        totals: SyncTotals,
    ) -> PlannedPage:
        """Plan the matched page against the deals' stored state and outbox rows."""
        settings: Settings = cfg.settings
        won_rule = profile.won_event()
        checked, firing, blocked, journeys = matched
        prior = store.prior_deals(session, [d.id for d in checked])
        changes: dict[str, str] = {}
        for deal in checked:
            p = prior.get(deal.id)
            state = PriorState(p[1], p[2], p[3], p[4]) if p else None
            changes[deal.id] = won_change(deal, state) if won_rule else "unchanged"
        needs_existing = [
            d.id
            for d in checked
            if d.id in prior and (changes[d.id] in (NEW_WON, RESTATE, RETRACT) or d.id in firing)
        ]
        existing = store.existing_rows(session, needs_existing)
        rows: list[dict[str, Any]] = []
        deal_rows: list[tuple[Any, ...]] = []
        now = utcnow()
        attr_rows: list[AttributionRow] = []
        attr_deals: list[str] = []
        not_planned: list[tuple[Any, ...]] = []
        now_planned: list[tuple[str, str, str]] = []
        for deal in checked:
            p = prior.get(deal.id)
            change = changes[deal.id]
            journey = journeys.get(deal.id)
            mine = existing.get(deal.id, [])
            sent = (p[3], p[4]) if p else (None, None)
            plans: list[tuple[str, datetime | None, Plan]] = []
            if deal.id not in blocked and won_rule is not None:
                if change == NEW_WON and journey is not None and deal.close_time is not None:
                    plan = plan_conversions(
                        deal, journey, won_rule, cfg, mine, event_time=deal.close_time
                    )
                    plans.append((won_rule.name, deal.close_time, plan))
                    sent = (deal.amount, deal.currency)
                elif change == RESTATE:
                    plan = plan_restatements(deal, won_rule.name, mine, cfg)
                    plans.append((RESTATEMENT, deal.close_time, plan))
                    sent = (deal.amount, deal.currency)
                elif change == RETRACT:
                    plan = plan_retractions(deal.id, won_rule.name, mine, cfg)
                    plans.append((RETRACTION, deal.close_time, plan))
                    sent = (None, None)
            if deal.id not in blocked and journey is not None:
                for rule in firing.get(deal.id, []):
                    at = deal.raw.modified_time
                    plan = plan_conversions(deal, journey, rule, cfg, mine, event_time=at)
                    plans.append((rule.name, at, plan))
            for what, at, plan in plans:
                rows.extend(plan.rows)
                for dest, reason in plan.not_planned:
                    totals.note(dest, reason)
                not_planned.extend(_not_planned(deal.id, what, at, plan, journey, now))
                now_planned.extend({(deal.id, r["destination"], what[:64]) for r in plan.rows})
            if plans and journey is not None:
                region = settings.tracking.default_phone_region
                totals.dropped.update(hashing.dropped(journey.contacts, region))
            if journey is not None:
                attr_deals.append(deal.id)
                attr_rows.extend(attribution_rows(deal, journey, settings, cfg.learned))
            deal_rows.append(
                _deal_row(
                    deal,
                    p,
                    journey,
                    deal.id in blocked,
                    sent,
                    settings.attribution.ignore_direct,
                    now,
                )
            )
        return PlannedPage(
            rows, deal_rows, attr_rows, attr_deals, prior, existing, not_planned, now_planned
        )

    def plan_preview(
        self,
        session: Any,
        page: list[CrmDeal],
        profile: MappingProfile,
        book: StageBook,
        cfg: PlanSettings,
        totals: SyncTotals,
    ) -> PlannedPage:
        """What a page would plan, read only: its matching and planning, none of its writes.

        For previews (the revenue upload page): ``totals`` gets the match statuses, skips and
        reasons not planned; the returned rows are what a run would add to the outbox.
        """
        lookups.index_lookups_for_reads(session)
        try:
            matched = self._match_page(session, page, profile, book, cfg, totals)
            return self._plan_page(session, matched, profile, cfg, totals)
        finally:
            hashing.forget()


def _learns(cfg: PlanSettings, matched: MatchedPage) -> bool:
    """Whether planning this page may learn the run's fit (a journey of two units or more).

    Only a split over several touches or clicks asks a learned model for shares; the fit is
    made once, so after that no page learns again.
    """
    if not cfg.learned.pending:
        return False
    return any(len(j.touches) > 1 or len(j.clicks) > 1 for j in matched.journeys.values())


def _writer(dialect: str) -> Any:
    """Where page writes run: a thread of their own on PostgreSQL, this thread on SQLite.

    PostgreSQL does the writes' work in its own process, so it overlaps ours. SQLite does it
    in this process, and from a second thread it would only contend for the interpreter.
    """
    if dialect == "postgresql":
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix=WRITER_THREAD)
    return _InlineWriter()


class _InlineWriter:
    """An executor running each submitted call at once, in the caller's thread."""

    def __enter__(self) -> _InlineWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run ``fn`` now; its result waits in the returned future."""
        future: Future[Any] = Future()
        future.set_result(fn(*args))  # an error is raised here and now
        return future


def _keep_unsaved(ctx: RunContext, inserted: list[dict[str, Any]]) -> None:
    """Dry run: keep the page's new outbox rows in memory, as the rollback drops them.

    The deliver step validates them with each platform after the stored due rows, so a dry
    run checks exactly what a real run would newly send. Their ids are negative: never a
    stored row's, and they keep the order of planning.
    """
    for row in inserted:
        ctx.unsaved.append(
            Conversion(
                **{column: row[column] for column in store.PLANNED_COLUMNS},
                id=-(len(ctx.unsaved) + 1),
                run_id=ctx.run_id,
                status="pending",
                attempts=0,
            )
        )


def _settle(pending: Future[Counter[str]], totals: SyncTotals) -> None:
    """Wait for a page's commit (its error raised here) and count what it added."""
    kinds = pending.result()
    totals.counts["conversions_planned"] += kinds[CONVERSION]
    totals.counts["restatements_planned"] += kinds[RESTATEMENT]
    totals.counts["retractions_planned"] += kinds[RETRACTION]


def _unique(page: Iterable[CrmDeal]) -> list[CrmDeal]:
    """One entry per deal (the newest), so a page never upserts the same row twice."""
    newest: dict[str, CrmDeal] = {}
    for deal in page:
        old = newest.get(deal.id)
        if old is None or deal.modified_time >= old.modified_time:
            newest[deal.id] = deal
    return list(newest.values())


#: The deal state the sync stores, in the order ``_deal_row`` gives it.
DEAL_COLUMNS = (
    "id",
    "name",
    "pipeline",
    "stage",
    "is_won",
    "is_closed",
    "amount",
    "currency",
    "close_time",
    "created_time",
    "modified_time",
    "contact_ids",
    "first_touch_channel",
    "first_touch_source",
    "last_touch_channel",
    "last_touch_source",
    "match_status",
    "skip_reason",
    "sent_amount",
    "sent_currency",
    "first_seen_at",
    "updated_at",
    "recurring_amount",
)
EVENT_COLUMNS = ("deal_id", "pipeline", "stage", "entered_at")
NOT_PLANNED_COLUMNS = ("deal_id", "destination", "what", "reason", "event_time", "updated_at")
#: The reason stored when the deal's contacts were never seen by the tracking snippet (or not
#: within the lookback), instead of the planner's "no eligible identifier".
JOURNEY_REASONS = {
    NEVER_TRACKED: "contacts never tracked",
    OUTSIDE_WINDOW: "visits outside the lookback window",
}


def _not_planned(
    deal_id: str,
    what: str,
    at: datetime | None,
    plan: Plan,
    journey: Journey | None,
    now: datetime,
) -> list[tuple[Any, ...]]:
    """One row per destination that got nothing from this plan, with the first reason.

    A destination that got at least one row (a split across clicks may leave some out) was
    planned, so it is not listed.
    """
    planned = {row["destination"] for row in plan.rows}
    reasons: dict[str, str] = {}
    for dest, reason in plan.not_planned:
        if dest not in planned:
            reasons.setdefault(dest, reason)
    why = JOURNEY_REASONS.get(journey.status) if journey is not None else None
    return [
        (deal_id, dest, what[:64], (why or reason)[:255], at, now)
        for dest, reason in reasons.items()
    ]


def _deal_row(
    deal: CheckedDeal,
    prior: Any,
    journey: Journey | None,
    blocked: bool,
    sent: tuple[Any, Any],
    ignore_direct: bool,
    now: datetime,
) -> tuple[Any, ...]:
    """The deal's stored state, in ``DEAL_COLUMNS`` order."""
    raw = deal.raw
    touches = (
        touch_summary(journey, ignore_direct)
        if journey is not None
        else ((prior[6], prior[7], prior[8], prior[9]) if prior else (None, None, None, None))
    )
    if journey is not None:
        match_status = journey.status
    elif blocked and deal.problem is not None and deal.problem.code == NO_CONTACTS:
        match_status = "no_contact"
    else:
        match_status = prior[5] if prior else None
    return (
        raw.id,
        raw.name[:512] if raw.name else None,
        raw.pipeline,
        raw.stage,
        deal.is_won,
        bool(raw.is_closed) or deal.is_won,
        deal.amount,
        deal.currency if deal.amount is not None else None,
        deal.close_time,
        raw.created_time,
        raw.modified_time,
        [c.id for c in raw.contacts],
        *touches,
        match_status,
        str(deal.problem) if blocked and deal.problem else None,
        sent[0],
        sent[1],
        prior[10] if prior else now,
        now,
        recurring_amount(raw.recurring_amount),
    )
