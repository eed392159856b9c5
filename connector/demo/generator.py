"""A seeded generator of a realistic B2B company's visitors, leads, deals and ad spend.

Deterministic for a given seed and ``now``: the demo and the end-to-end tests get the same
world every time. It includes the edge cases real data has: clicks older than the platforms'
windows, contacts never tracked, emails typed with capitals, spaces and Gmail dots, deals
with several contacts, and deals later re-priced or reopened.
"""

from __future__ import annotations

import random
import string
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode

SITE = "https://www.acme-analytics.example"
PAGES = ["/", "/pricing", "/features", "/customers", "/blog/attribution-guide", "/demo", "/about"]
STAGES = [
    ("appointmentscheduled", "Appointment scheduled", 0.2),
    ("qualifiedtobuy", "Qualified to buy", 0.4),
    ("presentationscheduled", "Presentation scheduled", 0.6),
    ("decisionmakerboughtin", "Decision maker bought-in", 0.8),
    ("contractsent", "Contract sent", 0.9),
    ("closedwon", "Closed won", 1.0),
    ("closedlost", "Closed lost", 0.0),
]
# Platform IDs are numeric, as Google Ads and Meta issue them.
GOOGLE_CAMPAIGNS = {
    "2010101": ("Brand search", ["acme analytics", "acme attribution"]),
    "2010102": ("Competitor search", ["ruler analytics alternative", "hubspot attribution"]),
    "2010103": ("Category search", ["revenue attribution software", "closed loop reporting"]),
}
META_CAMPAIGNS = {
    "23850000201": ("Retargeting - demo viewers", ["ad set: site visitors 30d"]),
    "23850000202": ("Lookalike - customers", ["ad set: lookalike 1%"]),
}
#: What Meta put in ``{{campaign.name}}`` when a campaign's ads were published: a snapshot,
#: so a campaign renamed since keeps its old name in the URL (its IDs stay the same).
META_PUBLISHED_NAMES = {"23850000202": "Lookalike - customers (v1)"}
MICROSOFT_CAMPAIGNS = {
    "410000101": ("Bing brand search", ["acme analytics"]),
}
LINKEDIN_CAMPAIGNS = {
    "570000301": ("LinkedIn - RevOps leaders", ["sponsored content: revops"]),
}
#: Where the generated visitors come from (weights in ``_visitor``).
SOURCES = [
    "google_ads",
    "meta_ads",
    "microsoft_ads",
    "linkedin_ads",
    "organic",
    "email",
    "referral",
    "direct",
]
FIRST = ["Ada", "Grace", "Alan", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Radia", "Tim"]
LAST = ["Lovelace", "Hopper", "Turing", "Torvalds", "Hamilton", "Thompson", "Liskov", "Ritchie"]
DOMAINS = ["gmail.com", "northwind.example", "contoso.example", "initech.example", "globex.example"]
USER_AGENT = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Safari/537.36"
)


def meta_ids(campaign_id: str) -> tuple[str, str]:
    """The ad set and ad IDs of the demo's one ad set and ad per Meta campaign (numeric)."""
    return f"{campaign_id}01", f"{campaign_id}02"


@dataclass(frozen=True)
class PageView:
    """One page view as the browser snippet would report it."""

    ts: datetime
    url: str
    referrer: str | None
    title: str
    ga_client_id: str
    ga_session_id: str
    fbp: str
    fbc: str | None


@dataclass
class Visitor:
    """One browser and its page views; ``source`` says how the generator sent it."""

    id: str
    source: str
    page_views: list[PageView] = field(default_factory=list)


@dataclass(frozen=True)
class Click:
    """An ad click the ad platform knows about (seeded into its sandbox)."""

    platform: str
    kind: str  # gclid | gbraid | wbraid | fbclid | msclkid | li_fat_id
    value: str
    ts: datetime
    campaign_id: str
    #: The keyword (Google Ads) the click came from; "" where the platform has none.
    keyword: str = ""


@dataclass(frozen=True)
class Lead:
    """A visitor identifying themselves: the email as typed and as the CRM stores it."""

    visitor_ids: tuple[str, ...]
    ts: datetime
    kind: str  # form | call
    email_typed: str
    crm_email: str
    phone: str
    first_name: str
    last_name: str
    company: str


@dataclass(frozen=True)
class DealSpec:
    """A deal to create in the CRM, its stage history, and what happens to it later."""

    name: str
    contact_emails: tuple[str, ...]
    amount: Decimal
    currency: str
    created: datetime
    stages: tuple[tuple[str, datetime], ...]
    won: bool
    reprice_to: Decimal | None = None
    reopen: bool = False


@dataclass(frozen=True)
class SpendSpec:
    """A day of spend for one campaign (and keyword or ad set)."""

    platform: str
    day: date
    campaign_id: str
    campaign: str
    group: str
    cost: Decimal
    clicks: int
    impressions: int


@dataclass
class World:
    """Everything the demo seeds and drives."""

    now: datetime
    visitors: list[Visitor]
    clicks: list[Click]
    leads: list[Lead]
    untracked_contacts: list[tuple[str, str, str]]  # (email, first, last)
    deals: list[DealSpec]
    spend: list[SpendSpec]


def generate(
    visitors: int = 300,
    seed: int = 7,
    now: datetime | None = None,
    *,
    google_utms: bool = True,
    meta_url_ids: bool = False,
) -> World:
    """Build a world of ``visitors`` browsers around ``now`` (default: the current time).

    ``google_utms=False`` lands Google Ads clicks with only their click ID, as auto-tagging
    does in most accounts; ``meta_url_ids=True`` lands Meta clicks with the URL parameters
    closedloop recommends (``platforms/meta/url_parameters.py``): campaign, ad set and ad IDs,
    and the campaign name as Meta snapshotted it. The world is otherwise the same (same seed,
    same random draws).
    """
    from connector.storage.models import utcnow

    return _Builder(random.Random(seed), now or utcnow(), google_utms, meta_url_ids).build(visitors)


class _Builder:
    def __init__(
        self,
        rng: random.Random,
        now: datetime,
        google_utms: bool = True,
        meta_url_ids: bool = False,
    ) -> None:
        self.rng = rng
        self.now = now.replace(microsecond=0)
        self.google_utms = google_utms
        self.meta_url_ids = meta_url_ids
        self.clicks: list[Click] = []

    # -- identifiers --------------------------------------------------------------------------
    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _token(self, n: int, alphabet: str = string.ascii_letters + string.digits + "-_") -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def _ms(self, ts: datetime) -> int:
        return int(ts.timestamp() * 1000)

    def _client_id(self, first_seen: datetime) -> str:
        """GA's client ID: a random number and the first-visit time in seconds."""
        return f"{self.rng.randint(10**9, 10**10 - 1)}.{int(first_seen.timestamp())}"

    # -- journeys -----------------------------------------------------------------------------
    def build(self, count: int) -> World:
        visitors = [self._visitor(i) for i in range(count)]
        leads = self._leads(visitors)
        untracked = [self._person() for _ in range(max(2, count // 60))]
        deals = self._deals(leads, untracked)
        return World(
            now=self.now,
            visitors=visitors,
            clicks=self.clicks,
            leads=leads,
            untracked_contacts=[(p[0], p[1], p[2]) for p in untracked],
            deals=deals,
            spend=self._spend(),
        )

    def _visitor(self, index: int) -> Visitor:
        source = self.rng.choices(
            SOURCES,
            weights=[30, 18, 7, 6, 20, 10, 10, 12],
        )[0]
        # A few journeys start long ago: their clicks are past Google's 90-day window.
        days_ago = self.rng.uniform(100, 120) if index % 47 == 5 else self.rng.uniform(8, 40)
        first = self.now - timedelta(days=days_ago, minutes=self.rng.randint(0, 600))
        client = self._client_id(first)
        fbp = f"fb.1.{self._ms(first)}.{self.rng.randint(10**9, 10**10 - 1)}"
        visitor = Visitor(id=self._uuid(), source=source)
        fbc: str | None = None
        ts = first
        for visit in range(self.rng.choices([1, 2, 3, 4], weights=[40, 30, 20, 10])[0]):
            params, referrer, fbc = self._arrival(source if visit == 0 else "direct", ts, fbc)
            session = str(int(ts.timestamp()))
            for page_no in range(self.rng.randint(1, 3)):
                path = PAGES[0] if page_no == 0 else self.rng.choice(PAGES[1:])
                query = f"?{urlencode(params)}" if page_no == 0 and params else ""
                visitor.page_views.append(
                    PageView(
                        ts=ts,
                        url=f"{SITE}{path}{query}",
                        referrer=referrer if page_no == 0 else f"{SITE}/",
                        title=f"Acme Analytics | {path.strip('/') or 'home'}",
                        ga_client_id=client,
                        ga_session_id=session,
                        fbp=fbp,
                        fbc=fbc,
                    )
                )
                ts += timedelta(seconds=self.rng.randint(20, 240))
            ts += timedelta(days=self.rng.uniform(0.5, 5))
        return visitor

    def _arrival(
        self, source: str, ts: datetime, fbc: str | None
    ) -> tuple[dict[str, str], str | None, str | None]:
        """URL parameters, referrer and ``_fbc`` of a visit from ``source``."""
        arrive = getattr(self, f"_from_{source}", None)
        return arrive(ts, fbc) if arrive is not None else ({}, None, fbc)

    def _from_google_ads(
        self, ts: datetime, fbc: str | None
    ) -> tuple[dict[str, str], str | None, str | None]:
        campaign_id = self.rng.choice(sorted(GOOGLE_CAMPAIGNS))
        name, keywords = GOOGLE_CAMPAIGNS[campaign_id]
        kind = self.rng.choices(["gclid", "gbraid", "wbraid"], weights=[85, 8, 7])[0]
        value = ("Cj0KCQiA" if kind == "gclid" else "0AAAAA") + self._token(70)
        keyword = self.rng.choice(keywords)
        self.clicks.append(Click("google_ads", kind, value, ts, campaign_id, keyword))
        params = {kind: value}
        if self.google_utms:
            params |= {
                "utm_source": "google",
                "utm_medium": "cpc",
                "utm_campaign": name,
                "utm_term": keyword,
            }
        return params, "https://www.google.com/", fbc

    def _from_meta_ads(
        self, ts: datetime, fbc: str | None
    ) -> tuple[dict[str, str], str | None, str | None]:
        campaign_id = self.rng.choice(sorted(META_CAMPAIGNS))
        fbclid = "IwAR" + self._token(56)
        self.clicks.append(Click("meta", "fbclid", fbclid, ts, campaign_id))
        params = {
            "fbclid": fbclid,
            "utm_source": "facebook",
            "utm_medium": "paid_social",
            "utm_campaign": META_CAMPAIGNS[campaign_id][0],
        }
        if self.meta_url_ids:
            adset_id, ad_id = meta_ids(campaign_id)
            params |= {
                "utm_campaign": META_PUBLISHED_NAMES.get(campaign_id, params["utm_campaign"]),
                "utm_id": campaign_id,
                "utm_term": adset_id,
                "utm_content": ad_id,
            }
        return params, "https://l.facebook.com/", f"fb.1.{self._ms(ts)}.{fbclid}"

    def _from_microsoft_ads(
        self, ts: datetime, fbc: str | None
    ) -> tuple[dict[str, str], str | None, str | None]:
        campaign_id = self.rng.choice(sorted(MICROSOFT_CAMPAIGNS))
        msclkid = self._token(32, "0123456789abcdef")
        self.clicks.append(Click("microsoft_ads", "msclkid", msclkid, ts, campaign_id))
        params = {
            "msclkid": msclkid,
            "utm_source": "bing",
            "utm_medium": "cpc",
            "utm_campaign": MICROSOFT_CAMPAIGNS[campaign_id][0],
        }
        return params, "https://www.bing.com/", fbc

    def _from_linkedin_ads(
        self, ts: datetime, fbc: str | None
    ) -> tuple[dict[str, str], str | None, str | None]:
        campaign_id = self.rng.choice(sorted(LINKEDIN_CAMPAIGNS))
        li_fat_id = self._uuid()
        self.clicks.append(Click("linkedin", "li_fat_id", li_fat_id, ts, campaign_id))
        params = {
            "li_fat_id": li_fat_id,
            "utm_source": "linkedin",
            "utm_medium": "paid_social",
            "utm_campaign": LINKEDIN_CAMPAIGNS[campaign_id][0],
        }
        return params, "https://www.linkedin.com/", fbc

    def _from_organic(
        self, ts: datetime, fbc: str | None
    ) -> tuple[dict[str, str], str | None, str | None]:
        engine = self.rng.choice(["https://www.google.com/", "https://www.bing.com/"])
        return {}, engine, fbc

    def _from_email(
        self, ts: datetime, fbc: str | None
    ) -> tuple[dict[str, str], str | None, str | None]:
        return (
            {
                "utm_source": "newsletter",
                "utm_medium": "email",
                "utm_campaign": "monthly-digest",
            },
            None,
            fbc,
        )

    def _from_referral(
        self, ts: datetime, fbc: str | None
    ) -> tuple[dict[str, str], str | None, str | None]:
        return {}, self.rng.choice(["https://www.g2.com/", "https://www.capterra.com/"]), fbc

    # -- people -------------------------------------------------------------------------------
    def _person(self) -> tuple[str, str, str, str]:
        first, last = self.rng.choice(FIRST), self.rng.choice(LAST)
        domain = self.rng.choice(DOMAINS)
        local = f"{first}.{last}{self.rng.randint(1, 999)}".lower()
        return f"{local}@{domain}", first, last, domain

    def _typed(self, email: str) -> str:
        """How a person might type their address: capitals, spaces, Gmail dots moved."""
        local, _, domain = email.partition("@")
        style = self.rng.random()
        if style < 0.25:
            return f"  {local.title()}@{domain.upper()} "
        if style < 0.4 and domain == "gmail.com":
            return f"{local.replace('.', '')}@gmail.com"
        return email

    def _leads(self, visitors: list[Visitor]) -> list[Lead]:
        leads: list[Lead] = []
        for visitor in visitors:
            converts = {
                "google_ads": 0.3,
                "meta_ads": 0.22,
                "microsoft_ads": 0.3,
                "linkedin_ads": 0.3,
                "email": 0.25,
            }.get(visitor.source, 0.14)
            if self.rng.random() > converts:
                continue
            email, first, last, domain = self._person()
            last_view = visitor.page_views[-1].ts
            ids = [visitor.id]
            # Some people come back on a second device and identify there too.
            if self.rng.random() < 0.1:
                second = Visitor(id=self._uuid(), source="direct")
                second.page_views.append(
                    PageView(
                        ts=last_view + timedelta(hours=3),
                        url=f"{SITE}/pricing",
                        referrer=None,
                        title="Acme Analytics | pricing",
                        ga_client_id=self._client_id(last_view),
                        ga_session_id=str(int(last_view.timestamp())),
                        fbp=f"fb.1.{self._ms(last_view)}.{self.rng.randint(10**9, 10**10 - 1)}",
                        fbc=None,
                    )
                )
                # It joins the visitors being iterated, so it may convert as someone else
                # later: a shared computer, whose journey belongs to whoever identified last.
                visitors.append(second)
                ids.append(second.id)
            leads.append(
                Lead(
                    visitor_ids=tuple(ids),
                    ts=last_view + timedelta(minutes=2),
                    kind="call" if self.rng.random() < 0.15 else "form",
                    email_typed=self._typed(email),
                    crm_email=email,
                    phone=f"+1 415 555 {self.rng.randint(1000, 9999)}",
                    first_name=first,
                    last_name=last,
                    company=domain.split(".")[0].title(),
                )
            )
        return leads

    # -- deals --------------------------------------------------------------------------------
    def _deals(
        self, leads: list[Lead], untracked: list[tuple[str, str, str, str]]
    ) -> list[DealSpec]:
        deals: list[DealSpec] = []
        people = [(lead.crm_email, lead.ts) for lead in leads]
        people += [(p[0], self.now - timedelta(days=20)) for p in untracked]
        for index, (email, lead_ts) in enumerate(people):
            if self.rng.random() > 0.55:
                continue
            contacts = [email]
            if self.rng.random() < 0.12 and len(people) > 1:
                other = self.rng.choice(people)[0]
                if other != email:
                    contacts.append(other)
            won = self.rng.random() < 0.6
            # Most closes are recent (so every platform still accepts them); some are older.
            bucket = self.rng.random()
            if bucket < 0.7:
                close = self.now - timedelta(hours=self.rng.uniform(8, 70))
            elif bucket < 0.9:
                close = self.now - timedelta(days=self.rng.uniform(3, 6.5))
            else:
                close = self.now - timedelta(days=self.rng.uniform(8, 30))
            close = max(close, lead_ts + timedelta(hours=12))
            if close > self.now - timedelta(hours=7):
                continue  # not enough history to have closed yet
            path = [s[0] for s in STAGES[:5]][: self.rng.randint(2, 5)]
            created = lead_ts + timedelta(hours=1)
            span = (close - created) / (len(path) + 1)
            stages = [(stage, created + span * i) for i, stage in enumerate(path)]
            stages.append(("closedwon" if won else "closedlost", close))
            currency = self.rng.choices(["USD", "GBP", "EUR"], weights=[60, 25, 15])[0]
            amount = Decimal(self.rng.randrange(1_500_00, 48_000_00, 50)) / 100
            deals.append(
                DealSpec(
                    name=f"Acme deal {index + 1}",
                    contact_emails=tuple(contacts),
                    amount=amount,
                    currency=currency,
                    created=created,
                    stages=tuple(stages),
                    won=won,
                    reprice_to=(amount + Decimal("250.00")) if won and index % 9 == 4 else None,
                    reopen=won and index % 13 == 7,
                )
            )
        return deals

    # -- spend --------------------------------------------------------------------------------
    def _spend(self) -> list[SpendSpec]:
        rows: list[SpendSpec] = []
        for offset in range(45, -1, -1):
            day = (self.now - timedelta(days=offset)).date()
            for platform, campaigns in (("google_ads", GOOGLE_CAMPAIGNS), ("meta", META_CAMPAIGNS)):
                for campaign_id, (name, groups) in sorted(campaigns.items()):
                    for group in groups:
                        clicks = self.rng.randint(5, 60)
                        rows.append(
                            SpendSpec(
                                platform=platform,
                                day=day,
                                campaign_id=campaign_id,
                                campaign=name,
                                group=group,
                                cost=Decimal(self.rng.randrange(2000, 30000)) / 100,
                                clicks=clicks,
                                impressions=clicks * self.rng.randint(15, 60),
                            )
                        )
        return rows
