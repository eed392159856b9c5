"""The data-driven models (Markov, Shapley) as the sync applies them: learned once per run.

The rule-based models need only a journey; the learned ones need every journey of the trailing
``attribution.data_driven.window_days``. So a run learns them at most once, when it plans its
first page holding a deal to split over two units or more (:class:`LearnedOnDemand`; a run
crediting no such deal learns nothing), from what is stored then (the won deals' credited
touches and the sessions of visitors who never bought, see ``connector.reports.data_driven``),
and every deal the run reads afterwards is credited by that fit:

- a deal's amount is split over the distinct channels of its credited touches in proportion to
  the channels' learned shares, and each channel's part equally over its touches
  (``deal_credit``); a channel never seen converting takes nothing from a journey with a
  learned channel, and a journey of unlearned channels only is split equally;
- while the window holds fewer than ``min_conversions`` won deals with a journey, or a model
  learned no positive share, that model's credit is the linear split, and the run's summary
  (``sync.data_driven``) says which and why.

A deal keeps the credit of the run that last read it (as a platform's own data-driven model
does not restate past conversions); ``closedloop backfill`` re-credits old deals.

Not incremental, and not reused from ``learned_for``'s cache: the window slides (old journeys
leave it), a deal's credited touches change when its journey grows, and a visitor stops being
a non-converting journey when they buy; a count kept between runs would need all three
subtracted exactly, and a fit kept for minutes would credit a run's deals by data older than
the run (and make a run's statements depend on what an earlier run left in memory, which the
crash-resume test rightly refuses). A run instead re-reads the window once and learns without
bootstrap resamples: one chain solve and one Shapley pass (``bench/attribution.py`` measures
it against the report's fit).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Any

from sqlalchemy.orm import Session

from connector.attribution.direct import DIRECT_CHANNEL
from connector.attribution.models import DATA_DRIVEN
from connector.attribution.shares import integer_parts
from connector.config import Settings
from connector.reports.data_driven import deal_credit, learn, training_paths, window
from connector.reports.sources import fx_factor
from connector.storage.models import Deal

#: Distinct channel sequences whose split is remembered within a run (journeys repeat).
MEMO_MAX = 65_536


@dataclass(eq=False)  # one fit per run, compared by identity (and a default in PlanSettings)
class LearnedCredit:
    """Each learned model's channel shares for this run, or why it falls back to linear."""

    shares: dict[str, dict[str, float]] = field(default_factory=dict)
    fallback: dict[str, str] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    _memo: dict[tuple[str, tuple[str, ...]], tuple[tuple[int, ...], int]] = field(
        default_factory=dict, repr=False, compare=False
    )

    @property
    def pending(self) -> bool:
        """Whether the fit is still to be made (only :class:`LearnedOnDemand` defers it)."""
        return False

    def ensure(self) -> None:
        """Make a deferred fit now; a fit made up front has nothing left to do."""

    def weights(self, model: str, channels: Sequence[str | None]) -> list[Fraction]:
        """Each touch's exact weight under ``model`` from the touches' channels, in order."""
        names = [c or DIRECT_CHANNEL for c in channels]
        if model not in self.shares:
            return [Fraction(1, len(names))] * len(names)
        return deal_credit(names, self.shares[model])

    def parts(self, model: str, channels: Sequence[str | None]) -> tuple[tuple[int, ...], int]:
        """:meth:`weights` as integer parts and their sum, remembered per channel sequence."""
        key = (model, tuple(c or DIRECT_CHANNEL for c in channels))
        memo = self._memo.get(key)
        if memo is None:
            if len(self._memo) >= MEMO_MAX:
                self._memo.clear()
            memo = self._memo[key] = integer_parts(self.weights(model, key[1]))
        return memo


def not_learned(reason: str) -> LearnedCredit:
    """Every learned model falling back to linear, for ``reason``."""
    return LearnedCredit(
        fallback=dict.fromkeys(DATA_DRIVEN, reason),
        summary={"learned": [], "fallback": dict.fromkeys(DATA_DRIVEN, reason)},
    )


#: What planning and attribution rows use when nothing was learned (a caller outside a run).
NOT_LEARNED = not_learned("not learned in this run")


def learn_for_run(session: Session, settings: Settings, now: datetime) -> LearnedCredit:
    """Learn both models over the window ending at ``now``, amounts in the reporting currency."""
    options = settings.attribution.data_driven
    since, until = window(now, options.window_days)
    fx = fx_factor(Deal.currency, settings.currency, settings.reports.fx_rates)
    paths = training_paths(session, since, until, fx)
    learned = learn(paths, order=options.markov_order, bootstrap=0, since=since, until=until)
    described: dict[str, Any] = {
        "window": {"from": since.isoformat(), "to": until.isoformat()},
        "journeys": learned.journeys,
        "converting_journeys": learned.converting,
    }
    if learned.converting < options.min_conversions:
        reason = (
            f"linear split: {learned.converting} won deals with a journey in the window, fewer"
            f" than attribution.data_driven.min_conversions ({options.min_conversions})"
        )
        credit = not_learned(reason)
        credit.summary.update(described)
        return credit
    credit = LearnedCredit()
    for model in DATA_DRIVEN:
        shares = learned.shares.get(model, {})
        if any(share > 0 for share in shares.values()):
            credit.shares[model] = shares
        else:
            credit.fallback[model] = "linear split: no channel learned a positive share"
    credit.summary = {
        **described,
        "learned": sorted(credit.shares),
        "fallback": dict(credit.fallback),
        "shares": {m: dict(sorted(s.items())) for m, s in credit.shares.items()},
    }
    return credit


#: The summary of a run that credited no deal by a learned model, so learned nothing.
NOT_NEEDED = "not learned: no deal in this run had two or more units to split"


class LearnedOnDemand(LearnedCredit):
    """The run's fit, learned on its first use and never again in the run.

    Learning reads the whole trailing window (seconds at a million journeys), and most runs
    (an empty scheduler run, a webhook run for one deal, the revenue kick) credit no deal by a
    learned model: a journey of one touch gives it everything without any fit. Only a split
    over two or more units asks for the shares, so only such a run learns.
    """

    def __init__(self, learn: Callable[[], LearnedCredit]) -> None:
        super().__init__(summary={"learned": [], "not_learned": NOT_NEEDED})
        self._learn: Callable[[], LearnedCredit] | None = learn

    @property
    def pending(self) -> bool:
        """Whether this run has not made its fit yet."""
        return self._learn is not None

    def ensure(self) -> None:
        """Learn now, unless already learned in this run."""
        if self._learn is None:
            return
        fit, self._learn = self._learn(), None
        self.shares, self.fallback, self.summary = fit.shares, fit.fallback, fit.summary

    def weights(self, model: str, channels: Sequence[str | None]) -> list[Fraction]:
        """:meth:`LearnedCredit.weights`, learning first if this run has not yet."""
        self.ensure()
        return super().weights(model, channels)

    def parts(self, model: str, channels: Sequence[str | None]) -> tuple[tuple[int, ...], int]:
        """:meth:`LearnedCredit.parts`, learning first if this run has not yet."""
        self.ensure()
        return super().parts(model, channels)
