"""Rows the ad platforms report back: spend and clicks, and GA4 sessions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal, Protocol


@dataclass(frozen=True)
class SpendRow:
    """Cost, clicks and impressions for one day and campaign/ad group/keyword (or ad set/ad)."""

    platform: str
    day: date
    campaign_id: str
    campaign: str | None
    cost: Decimal
    clicks: int
    impressions: int
    currency: str | None = None
    ad_group_id: str = ""
    ad_group: str | None = None
    keyword_id: str = ""
    keyword: str | None = None
    #: The ad, for platforms whose finest level is the ad, not a keyword (Meta).
    ad_id: str = ""
    ad: str | None = None
    #: The GA4 channel of this row's traffic when the platform knows it better than its
    #: ``traffic`` default (a Google Ads Display campaign is "Display", not "Paid Search").
    channel: str | None = None


@dataclass(frozen=True)
class ClickResolution:
    """Where one ad click came from, as the ad platform reports it: IDs plus display names.

    ``channel`` is the GA4 channel the click's campaign type implies, so revenue from the
    click lands on the same channel row as the campaign's spend.
    """

    kind: str
    value: str
    customer_id: str
    campaign_id: str
    campaign: str | None
    campaign_type: str | None
    channel: str | None
    ad_group_id: str = ""
    ad_group: str | None = None
    keyword_id: str = ""
    keyword: str | None = None
    match_type: str | None = None
    ad_id: str = ""
    ad: str | None = None


class ClickResolver(Protocol):
    """A spend source that can also say which campaign/keyword each stored click came from.

    Declared on the spend source (``click_kinds`` non-empty) so the connector asks the
    registry, never a platform name. ``click_days_kept`` is how far back the platform still
    answers: clicks first seen earlier are not asked about.
    """

    click_kinds: ClassVar[tuple[str, ...]]
    click_days_kept: ClassVar[int]

    def resolve_clicks(self, clicks: list[tuple[str, str, datetime]]) -> Iterator[ClickResolution]:
        """Resolutions for those of ``clicks`` (kind, value, first seen) the platform knows."""
        ...


class UrlIdSource(Protocol):
    """A spend source whose ads put their own IDs into the landing URL (Meta's URL macros).

    ``url_id_params`` names the query parameters that may carry a campaign, ad set or ad ID
    (the platform's documented template); a touch is this platform's when one of those values
    is the ID of a campaign, ad set or ad in its spend rows, so a parameter reused by another
    tool (GA4 also reads ``utm_id``) resolves nothing by mistake.
    """

    url_id_params: ClassVar[tuple[str, ...]]


@dataclass(frozen=True)
class SessionsRow:
    """GA4 sessions for one day and session source/medium/campaign."""

    day: date
    source: str
    medium: str
    campaign: str
    sessions: int
    engaged_sessions: int
    bounce_rate: Decimal | None


class SpendSource(Protocol):
    """A platform that reports spend or sessions, and how the connector must file its rows.

    ``rows`` says which table the rows go to; ``traffic`` is how the platform's paid traffic
    shows up in tracking (source, medium, GA4 channel), so spend lines up with visits and
    revenue on every report grouping. ``unready`` answers why the pull cannot run with these
    settings: None when it can, ``""`` to skip it quietly (an optional feature not set up),
    else the reason recorded on the run.
    """

    name: str
    rows: ClassVar[Literal["spend", "sessions"]]
    traffic: ClassVar[tuple[str, str, str] | None]

    @classmethod
    def unready(cls, settings: Any) -> str | None:
        """None when the pull can run; ``""`` to skip quietly; else the reason it cannot."""
        ...

    def pull(self, start: date, end: date) -> Iterator[SpendRow] | Iterator[SessionsRow]:
        """Every row for days in [start, end]."""
        ...
