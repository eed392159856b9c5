"""HubSpotSource pulls deals through the SDK against the sandbox: complete, ordered, frugal."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from connector.mapping import MappingProfile
from platforms.crm import CrmDeal
from platforms.hubspot.sandbox import HubSpotSandbox
from platforms.hubspot.source import HubSpotSource

SEARCH = "POST /crm/v3/objects/deals/search"
ASSOCIATIONS = "POST /crm/v4/associations/deals/contacts/batch/read"
CONTACT_READ = "POST /crm/v3/objects/contacts/batch/read"
DEAL_READ = "POST /crm/v3/objects/deals/batch/read"


def pull(source: HubSpotSource, since: datetime | None = None) -> list[list[CrmDeal]]:
    return list(source.deals_changed_since(since))


def flat(pages: list[list[CrmDeal]]) -> list[CrmDeal]:
    return [deal for page in pages for deal in page]


def seed(sandbox: HubSpotSandbox, count: int, contacts: list[str]) -> list[str]:
    return [
        sandbox.add_deal(
            {"dealname": f"deal {i}", "amount": str(i), "dealstage": "closedwon"},
            [contacts[i % len(contacts)]],
        )
        for i in range(count)
    ]


def test_pulls_every_deal_exactly_once_across_the_10000_cap(
    sandbox: HubSpotSandbox, make_source: Callable[..., HubSpotSource], clock
) -> None:
    """10,450 deals arrive once each, oldest first, in the minimum number of requests."""
    contacts = [sandbox.add_contact({"email": f"c{i}@example.com"}) for i in range(50)]
    ids = seed(sandbox, 10_450, contacts)
    source = make_source()
    seen: list[tuple[int, int | None]] = []
    pages = list(source.deals_changed_since(None, progress=lambda d, t: seen.append((d, t))))
    deals = flat(pages)
    assert [d.id for d in deals] == ids
    assert [d.modified_time for d in deals] == sorted(d.modified_time for d in deals)
    assert all(d.modified_time.tzinfo is UTC for d in deals)
    assert all(len(d.contacts) == 1 and d.contacts[0].email for d in deals)
    # ceil(10,450 / 200) = 53 pages: one search, one association read, one contact read each.
    assert len(pages) == 53
    assert sandbox.requests_by_endpoint[SEARCH] == 53
    assert sandbox.requests_by_endpoint[ASSOCIATIONS] == 53
    assert sandbox.requests_by_endpoint[CONTACT_READ] == 53
    assert source.requests_made == sandbox.requests == 159
    assert sandbox.rejected == []  # never paged past 10,000, never rate limited
    assert seen[-1] == (10_450, 10_450)
    assert clock.now > 1_000.0 + 10  # the throttle spread 159 requests over > 1 window


def test_a_crowd_at_one_timestamp_is_drained_by_id(
    roomy_sandbox: HubSpotSandbox, make_source: Callable[..., HubSpotSource], data_clock
) -> None:
    """400 deals sharing the boundary millisecond are neither lost nor repeated."""
    sandbox = roomy_sandbox
    contact = sandbox.add_contact({"email": "c@example.com"})
    ids = seed(sandbox, 9_700, [contact])
    data_clock.current += timedelta(milliseconds=1)
    data_clock.step = timedelta(0)
    ids += seed(sandbox, 400, [contact])
    deals = flat(pull(make_source(box=sandbox)))
    assert sorted(d.id for d in deals) == sorted(ids)
    assert len(deals) == len(set(d.id for d in deals))
    # 50 pages up to the cap, 2 pages draining the crowd by ID, 1 query after it.
    assert sandbox.requests_by_endpoint[SEARCH] == 53
    assert sandbox.rejected == []


def test_more_than_10000_deals_in_one_millisecond_still_come_through(
    roomy_sandbox: HubSpotSandbox, make_source: Callable[..., HubSpotSource], data_clock
) -> None:
    """A bulk update stamping 10,050 deals with one time is pulled completely, then later ones."""
    sandbox = roomy_sandbox
    contact = sandbox.add_contact({"email": "c@example.com"})
    data_clock.step = timedelta(0)
    ids = seed(sandbox, 10_050, [contact])
    data_clock.step = timedelta(milliseconds=1)
    ids += seed(sandbox, 3, [contact])
    deals = flat(pull(make_source(box=sandbox)))
    assert sorted(d.id for d in deals) == sorted(ids)
    assert len(deals) == len(ids)
    assert [d.id for d in deals[-3:]] == ids[-3:]
    assert sandbox.rejected == []


def test_incremental_pull_since_a_time(
    sandbox: HubSpotSandbox, make_source: Callable[..., HubSpotSource]
) -> None:
    """Only deals modified at or after ``since`` come back, a re-modified old deal included."""
    contact = sandbox.add_contact({"email": "c@example.com", "hs_google_click_id": "gclid-1"})
    ids = seed(sandbox, 5, [contact])
    since = datetime.fromisoformat(sandbox.deals[ids[2]]["hs_lastmodifieddate"])
    source = make_source()
    assert [d.id for d in flat(pull(source, since))] == ids[2:]
    sandbox.update_deal(ids[0], amount="999.50")
    deals = flat(pull(source, since))
    assert [d.id for d in deals] == [*ids[2:], ids[0]]
    assert deals[-1].amount == "999.50" and deals[-1].modified_time > since
    assert deals[-1].contacts[0].gclid == "gclid-1"
    assert pull(source, datetime(2030, 1, 1, tzinfo=UTC)) == []
    assert sandbox.requests_by_endpoint[SEARCH] == 3
    assert sandbox.requests_by_endpoint[ASSOCIATIONS] == 2


def test_contacts_and_associations_are_batched_per_page(
    sandbox: HubSpotSandbox, make_source: Callable[..., HubSpotSource]
) -> None:
    """200 deals with 250 distinct contacts: 1 search, 1 association read, 3 contact reads."""
    contacts = [
        sandbox.add_contact({"email": f"p{i}@example.com", "phone": f"+1555{i:04d}"})
        for i in range(250)
    ]
    ids = [
        sandbox.add_deal(
            {"dealname": f"d{i}"}, [contacts[i], contacts[(i + 200) % 250]] if i < 199 else []
        )
        for i in range(200)
    ]
    deals = flat(pull(make_source()))
    assert [d.id for d in deals] == ids
    assert deals[0].contacts[0].id == contacts[0] and deals[0].contacts[1].id == contacts[200]
    assert deals[0].contacts[0].phone == "+15550000"
    assert deals[-1].contacts == ()
    assert sandbox.requests_by_endpoint[SEARCH] == 1
    assert sandbox.requests_by_endpoint[ASSOCIATIONS] == 1
    assert sandbox.requests_by_endpoint[CONTACT_READ] == 3


def test_deal_fields_follow_the_mapping_profile(
    sandbox: HubSpotSandbox, make_source: Callable[..., HubSpotSource]
) -> None:
    """Profile names pick the properties; values stay raw strings; flags come from the stage."""
    sandbox.add_contact_property("my_click", "string")
    contact = sandbox.add_contact({"email": "x@example.com", "my_click": "G-1"})
    deal = sandbox.add_deal(
        {
            "dealname": "Big one",
            "amount": "1234.56",
            "deal_currency_code": "EUR",
            "closedate": "2026-02-27T10:00:00.000Z",
            "dealstage": "closedwon",
        },
        [contact],
    )
    profile = MappingProfile.model_validate({"contact": {"gclid": "my_click"}})
    [found] = flat(pull(make_source(profile)))
    assert (found.id, found.name, found.amount, found.currency) == (
        deal,
        "Big one",
        "1234.56",
        "EUR",
    )
    assert found.close_date == "2026-02-27T10:00:00.000Z"
    assert (found.pipeline, found.stage, found.is_closed_won, found.is_closed) == (
        "default",
        "closedwon",
        True,
        True,
    )
    assert found.created_time is not None and found.created_time.tzinfo is UTC
    assert found.contacts[0].gclid == "G-1"


def test_deals_by_id_batches_and_skips_missing(
    sandbox: HubSpotSandbox, make_source: Callable[..., HubSpotSource]
) -> None:
    """150 IDs (one unknown) take 2 deal reads, 1 association read and 1 contact read."""
    contact = sandbox.add_contact({"email": "c@example.com"})
    ids = seed(sandbox, 149, [contact])
    deals = make_source().deals_by_id([*ids, "424242"])
    assert [d.id for d in deals] == ids
    assert all(d.contacts[0].id == contact for d in deals)
    assert sandbox.requests_by_endpoint[DEAL_READ] == 2
    assert sandbox.requests_by_endpoint[ASSOCIATIONS] == 1
    assert sandbox.requests_by_endpoint[CONTACT_READ] == 1


def test_pipelines_mark_won_stages(
    sandbox: HubSpotSandbox, make_source: Callable[..., HubSpotSource]
) -> None:
    """Won is the closed stage with probability 1.0, unless the profile names won stages."""
    sandbox.add_pipeline(
        "renewals",
        "Renewals",
        [
            ("r-open", "Open", 0.5, False),
            ("r-won", "Renewed", 1.0, True),
            ("r-lost", "Lost", 0.0, True),
        ],
    )
    pipelines = {p.id: p for p in make_source().pipelines()}
    assert [s.id for s in pipelines["renewals"].stages if s.is_won] == ["r-won"]
    assert [s.id for s in pipelines["default"].stages if s.is_won] == ["closedwon"]
    assert pipelines["renewals"].stages[0].probability == 0.5
    profile = MappingProfile.model_validate({"won_stages": {"renewals": ["r-open"]}})
    overridden = {p.id: p for p in make_source(profile).pipelines()}
    assert [s.id for s in overridden["renewals"].stages if s.is_won] == ["r-open"]


def test_a_deal_modified_mid_pull_does_not_hide_another(
    sandbox: HubSpotSandbox, make_source: Callable[..., HubSpotSource]
) -> None:
    """Editing an already-read deal during the pull shifts the rest; nothing is skipped."""
    contacts = [sandbox.add_contact({"email": "c@example.com"})]
    ids = seed(sandbox, 650, contacts)
    pages = make_source().deals_changed_since(None)
    first = next(pages)
    # A user edits a deal we already read: it moves to the end of the modified-time order.
    sandbox.update_deal(first[0].id, amount="999")
    rest = [deal for page in pages for deal in page]
    got = {d.id for d in first} | {d.id for d in rest}
    assert got == set(ids)
    assert [d.amount for d in rest if d.id == first[0].id] == ["999"]
