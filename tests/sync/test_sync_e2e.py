"""End to end against the HubSpot sandbox: pull, match, attribute and plan into the outbox."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from connector.attribution import MODELS
from connector.identity import email_key, meta_email_hash
from connector.storage.models import (
    Attribution,
    Conversion,
    CrmStage,
    Deal,
    DealStageEvent,
    model_revenue,
    model_weight,
)
from tests.sync.conftest import NOW, outbox, won_deal


def tracked_contact(hubspot, seed, email="ann@example.com"):
    """A HubSpot contact whose person has a visitor with a Google click, a Meta click, GA IDs."""
    contact = hubspot.add_contact({"email": email})
    person = seed.person(email)
    vid = seed.visitor(
        person,
        ga_client_id="111.222",
        fbp="fb.1.1700000000000.42",
        consent_ad_user_data=True,
        consent_ad_personalization=False,
    )
    seed.touch(vid, NOW - timedelta(days=20), click=("gclid", "G-OLD"))
    seed.touch(
        vid,
        NOW - timedelta(days=10),
        click=("fbclid", "FB-1"),
        fbc="fb.1.1762000000000.FB-1",
        channel="Paid Social",
        source="facebook",
    )
    seed.touch(
        vid,
        NOW - timedelta(days=5),
        click=("gclid", "G-NEW"),
        ga_client_id="111.222",
        ga_session_id="999",
    )
    return contact


def test_newly_won_deal_is_planned_once_per_destination(hubspot, seed, sync, sync_runtime):
    """A new closed-won deal gives one row per destination, with each platform's identifiers."""
    deal = won_deal(hubspot, [tracked_contact(hubspot, seed)], amount="1234.50")
    assert sync() == "succeeded"
    rows = {r[1]: r for r in outbox(sync_runtime)}
    assert set(rows) == {"google_ads", "ga4", "meta"}
    for dest, row in rows.items():
        assert row[0] == deal and row[2] == "conversion"
        assert row[3] == f"cl-{deal}-closed_won"
        assert row[5] == Decimal("1234.50") and row[6] == "USD"
        assert row[7] == NOW - timedelta(days=1), dest
    google = rows["google_ads"][9]
    assert google["gclid"] == "G-NEW"  # the most recent eligible click
    assert google["click_time"] == (NOW - timedelta(days=5)).isoformat()
    assert google["email_sha256"] == [email_key("ann@example.com")]
    assert google["consent_ad_user_data"] is True
    meta = rows["meta"][9]
    assert meta["email_sha256"] == [meta_email_hash("ann@example.com")]
    assert meta["fbc"] == "fb.1.1762000000000.FB-1" and meta["fbp"].startswith("fb.1.")
    assert rows["ga4"][9]["ga_client_id"] == "111.222"
    assert rows["ga4"][8] == "purchase" and rows["meta"][8] == "Purchase"
    assert sync.last["counts"]["conversions_planned"] == 3
    assert sync.last["counts"]["hubspot_requests"] >= 3


def test_rerun_plans_nothing_and_keeps_the_outbox(hubspot, seed, sync, sync_runtime, clock):
    """Running the same sync again (even after the overlap window) changes nothing."""
    won_deal(hubspot, [tracked_contact(hubspot, seed)])
    sync()
    before = outbox(sync_runtime)
    clock.advance(minutes=1)
    assert sync() == "succeeded"
    assert outbox(sync_runtime) == before
    assert sync.last["counts"]["conversions_planned"] == 0
    assert sync.last["counts"]["deals_pulled"] == 1  # re-seen through the overlap, unchanged


def test_amount_change_plans_a_google_restatement(hubspot, seed, sync, sync_runtime, clock):
    """A won deal whose amount changes after planning gets a restatement for Google Ads only."""
    deal = won_deal(hubspot, [tracked_contact(hubspot, seed)], amount="1000")
    sync()
    clock.advance(minutes=30)
    hubspot.update_deal(deal, amount="1500")
    sync()
    restated = [r for r in outbox(sync_runtime) if r[2] == "restatement"]
    assert [(r[1], r[4], r[5]) for r in restated] == [
        ("google_ads", f"cl-{deal}-closed_won", Decimal("1500.0000"))
    ]
    assert restated[0][3] == f"cl-{deal}-closed_won-rs1"
    with sync_runtime.sessions() as session:
        stored = session.get(Deal, deal)
        assert stored.sent_amount == Decimal("1500") and stored.amount == Decimal("1500")
    clock.advance(minutes=30)
    hubspot.update_deal(deal, amount="1000")
    sync()
    keys = [r[3] for r in outbox(sync_runtime) if r[2] == "restatement"]
    assert keys == [f"cl-{deal}-closed_won-rs1", f"cl-{deal}-closed_won-rs2"]


def test_reopened_deal_is_retracted_and_a_rewin_plans_anew(
    hubspot, seed, sync, sync_runtime, clock
):
    """Leaving closed-won retracts the Google conversion; winning again plans a new one."""
    deal = won_deal(hubspot, [tracked_contact(hubspot, seed)])
    sync()
    clock.advance(minutes=30)
    hubspot.update_deal(deal, dealstage="contractsent")
    sync()
    assert sync.last["counts"]["retractions_planned"] == 1
    retraction = [r for r in outbox(sync_runtime) if r[2] == "retraction"]
    assert [(r[1], r[4]) for r in retraction] == [("google_ads", f"cl-{deal}-closed_won")]
    clock.advance(minutes=30)
    hubspot.update_deal(deal, dealstage="closedwon")
    sync()
    new = [r for r in outbox(sync_runtime) if r[2] == "conversion"]
    assert sorted(r[3] for r in new if r[1] == "google_ads") == [
        f"cl-{deal}-closed_won",
        f"cl-{deal}-closed_won-g1",
    ]
    # GA4 and Meta cannot retract, so re-sending would double count: nothing new for them.
    assert len([r for r in new if r[1] != "google_ads"]) == 2


def test_bad_deals_are_skipped_with_their_reason_and_the_run_goes_on(
    hubspot, seed, sync, sync_runtime
):
    """Missing/negative amount, unknown currency, no close date, no contacts: skipped, counted."""
    contact = tracked_contact(hubspot, seed)
    bad = {
        won_deal(hubspot, [contact], amount=None): "missing_amount",
        won_deal(hubspot, [contact], amount="-5"): "negative_amount",
        won_deal(hubspot, [contact], amount="lots"): "unparseable_amount",
        won_deal(hubspot, [contact], deal_currency_code="XYZ"): "unknown_currency",
        won_deal(hubspot, [contact], closedate=None): "missing_close_date",
        won_deal(hubspot, []): "no_contacts",
    }
    good = won_deal(hubspot, [contact])
    assert sync() == "succeeded"
    assert {r[0] for r in outbox(sync_runtime)} == {good}
    with sync_runtime.sessions() as session:
        for deal_id, code in bad.items():
            assert session.get(Deal, deal_id).skip_reason.startswith(code + ":"), code
        assert session.get(Deal, good).skip_reason is None
        no_contacts = next(d for d, code in bad.items() if code == "no_contacts")
        assert session.get(Deal, no_contacts).match_status == "no_contact"
    assert sync.last["counts"]["deals_skipped"] == 6
    assert sync.last["summary"]["sync"]["skipped"] == {code: 1 for code in bad.values()}


def test_blank_currency_means_the_account_currency(hubspot, seed, sync, sync_runtime):
    """HubSpot leaves the currency blank on single-currency accounts: use settings.currency."""
    won_deal(hubspot, [tracked_contact(hubspot, seed)], deal_currency_code=None)
    sync()
    assert {r[6] for r in outbox(sync_runtime)} == {"USD"}


def test_unmatched_deals_record_why(hubspot, seed, sync, sync_runtime):
    """No journey: the deal says whether the contact was never tracked or out of the window."""
    never = won_deal(hubspot, [hubspot.add_contact({"email": "new@example.com"})])
    old_contact = hubspot.add_contact({"email": "old@example.com"})
    vid = seed.visitor(seed.person("old@example.com"))
    seed.touch(vid, NOW - timedelta(days=200), click=("gclid", "G-ANCIENT"))
    outside = won_deal(hubspot, [old_contact])
    sync()
    with sync_runtime.sessions() as session:
        assert session.get(Deal, never).match_status == "contact_never_tracked"
        assert session.get(Deal, outside).match_status == "outside_window"
    rows = outbox(sync_runtime)
    # Google still gets enhanced conversions for leads (hashed email); no gclid outside window.
    google = [r for r in rows if r[1] == "google_ads"]
    assert len(google) == 2 and all("gclid" not in r[9] for r in google)
    assert not [r for r in rows if r[1] == "ga4"]  # no GA client ID: nothing GA4 can use
    assert sync.last["summary"]["sync"]["not_planned"]["ga4"] == {"no eligible identifier": 2}


def test_matches_by_visitor_id_and_hubspotutk_and_crm_click(hubspot, seed, sync, sync_runtime):
    """A contact's stored visitor ID, hubspotutk, HubSpot-held gclid and ID all reach the journey.

    The last contact has no email at all: its person is known by the CRM contact ID that the
    tracking's write-back stored on it.
    """
    v1 = seed.visitor(None)
    seed.touch(v1, NOW - timedelta(days=3), ga_client_id="1.1")
    v2 = seed.visitor(None, hubspotutk="utk-1")
    seed.touch(v2, NOW - timedelta(days=2), click=("wbraid", "WB-1"))
    by_vid = won_deal(hubspot, [hubspot.add_contact({"closedloop_visitor_id": v1})])
    by_utk = won_deal(hubspot, [hubspot.add_contact({"hubspotutk": "utk-1"})])
    by_crm = won_deal(hubspot, [hubspot.add_contact({"hs_google_click_id": "G-CRM"})])
    known = hubspot.add_contact({"firstname": "Ann"})
    v3 = seed.visitor(seed.person("ann@example.com", contact_id=known))
    seed.touch(v3, NOW - timedelta(days=4), click=("gclid", "G-BY-ID"))
    by_id = won_deal(hubspot, [known])
    sync()
    rows = {(r[0], r[1]): r[9] for r in outbox(sync_runtime)}
    assert rows[(by_vid, "ga4")]["ga_client_id"] == "1.1"
    assert rows[(by_utk, "google_ads")]["wbraid"] == "WB-1"
    assert rows[(by_crm, "google_ads")]["gclid"] == "G-CRM"
    assert "click_time" not in rows[(by_crm, "google_ads")]  # HubSpot does not know when
    assert rows[(by_id, "google_ads")]["gclid"] == "G-BY-ID"


def test_every_model_is_stored_for_reports(hubspot, seed, sync, sync_runtime):
    """Attribution rows exist for all five models, each summing to the deal amount."""
    deal = won_deal(hubspot, [tracked_contact(hubspot, seed)], amount="100")
    sync()
    with sync_runtime.sessions() as session:
        totals = [
            (
                model,
                *session.execute(
                    select(func.sum(model_revenue(model)), func.count()).where(
                        Attribution.deal_id == deal, model_weight(model) > 0
                    )
                ).one(),
            )
            for model in MODELS
        ]
        stored = session.scalar(select(func.count()).where(Attribution.deal_id == deal))
        stages = session.scalars(select(CrmStage.stage).where(CrmStage.is_won)).all()
        events = session.scalars(select(DealStageEvent.stage)).all()
    # Three touches, one row each: every model's revenue sums to the amount; first and last
    # click credit only one of them.
    assert stored == 3
    assert {m: (Decimal(s), n) for m, s, n in totals} == {
        "first_click": (Decimal("100"), 1),
        "last_click": (Decimal("100"), 1),
        "linear": (Decimal("100"), 3),
        "time_decay": (Decimal("100"), 3),
        "position_based": (Decimal("100"), 3),
    }
    assert stages == ["closedwon"] and events == ["closedwon"]


def test_split_mode_sends_each_click_its_share(hubspot, seed, make_settings, sync_config, clock):
    """With split on for Google, each gclid carries its linear share, summing to the amount."""
    from connector.runtime import Runtime
    from tests.sync.conftest import Seeder, Syncer

    sync_config["platforms"]["google_ads"]["split"] = True
    sync_config["attribution"] = {"model": "linear"}
    rt = Runtime.from_settings(make_settings(sync_config))
    try:
        seeder = Seeder(rt)
        contact = tracked_contact(hubspot, seeder)
        deal = won_deal(hubspot, [contact], amount="100")
        Syncer(rt, clock)()
        google = [r for r in outbox(rt) if r[1] == "google_ads"]
        assert [(r[3], r[5], r[9]["gclid"]) for r in google] == [
            (f"cl-{deal}-closed_won-1", Decimal("50.0000"), "G-OLD"),
            (f"cl-{deal}-closed_won-2", Decimal("50.0000"), "G-NEW"),
        ]
        assert len([r for r in outbox(rt) if r[1] == "meta"]) == 1  # split only where asked
    finally:
        rt.close()


def test_old_deals_are_planned_only_where_the_platform_still_accepts_them(
    hubspot, seed, sync, sync_runtime
):
    """A deal closed 30 days ago goes to Google and GA4, not Meta (7-day limit), with why."""
    contact = tracked_contact(hubspot, seed)
    won_deal(hubspot, [contact], close=NOW - timedelta(days=6))
    won_deal(hubspot, [contact], close=NOW - timedelta(days=30))
    sync()
    assert sorted(r[1] for r in outbox(sync_runtime)) == sorted(
        ["google_ads", "ga4", "meta", "google_ads", "ga4"]
    )
    reasons = sync.last["summary"]["sync"]["not_planned"]["meta"]
    assert list(reasons.values()) == [1] and "7 days" in next(iter(reasons))


def test_dry_run_reports_but_writes_nothing(hubspot, seed, sync, sync_runtime):
    """A dry run counts what it would plan and leaves deals, outbox and cursor untouched."""
    won_deal(hubspot, [tracked_contact(hubspot, seed)])
    assert sync(dry_run=True) == "succeeded"
    assert sync.last["counts"]["conversions_planned"] == 3
    assert outbox(sync_runtime) == []
    with sync_runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Deal)) == 0
    sync()
    assert len(outbox(sync_runtime)) == 3


def test_deal_ids_limit_the_run_to_those_deals(hubspot, seed, sync, sync_runtime):
    """The webhook fast path pulls only the named deals (and does not move the cursor)."""
    contact = tracked_contact(hubspot, seed)
    wanted = won_deal(hubspot, [contact])
    won_deal(hubspot, [contact])
    sync(deal_ids=[wanted])
    assert {r[0] for r in outbox(sync_runtime)} == {wanted}
    sync()
    assert len({r[0] for r in outbox(sync_runtime)}) == 2


def test_fixed_value_stage_rule(hubspot, seed, make_settings, sync_config, clock):
    """A profile rule for an earlier stage plans its own event with its fixed value, once."""
    from connector.runtime import Runtime
    from tests.sync.conftest import Seeder, Syncer

    sync_config["mapping"] = {
        "overrides": {
            "events": [
                {
                    "name": "closed_won",
                    "when": {"deal_won": True},
                    "value": "deal_amount",
                    "platforms": {"google_ads": {}},
                },
                {
                    "name": "contract",
                    "when": {"deal_stage": "contractsent"},
                    "value": 100,
                    "currency": "EUR",
                    "platforms": {"google_ads": {"conversion_action_id": "77"}},
                },
            ]
        }
    }
    rt = Runtime.from_settings(make_settings(sync_config))
    try:
        contact = tracked_contact(hubspot, Seeder(rt))
        deal = won_deal(hubspot, [contact], dealstage="contractsent")
        syncer = Syncer(rt, clock)
        syncer()
        clock.advance(minutes=30)
        syncer()
        rows = outbox(rt)
        assert [(r[1], r[3], r[5], r[6], r[8]) for r in rows] == [
            ("google_ads", f"cl-{deal}-contract", Decimal("100.0000"), "EUR", "contract")
        ]
        with rt.sessions() as session:
            options = session.scalar(select(Conversion.options))
        assert options["conversion_action_id"] == "77"
    finally:
        rt.close()


def test_open_and_lost_deals_are_matched_for_the_reports_but_plan_nothing(
    hubspot, seed, sync, sync_runtime
):
    """Opportunities need their source too: open and lost deals get a journey and credit.

    The reports count them as opportunities by these weights (revenue only once won); no
    conversion is planned for them.
    """
    contact = tracked_contact(hubspot, seed)
    open_deal = won_deal(hubspot, [contact], amount="500", dealstage="appointmentscheduled")
    lost_deal = won_deal(hubspot, [contact], amount=None, dealstage="closedlost")
    assert sync() == "succeeded"
    assert outbox(sync_runtime) == []
    with sync_runtime.sessions() as session:
        for deal_id, revenue in ((open_deal, Decimal("500")), (lost_deal, Decimal("0"))):
            deal = session.get(Deal, deal_id)
            assert deal.match_status == "matched"
            assert (deal.first_touch_channel, deal.last_touch_channel) == (
                "Paid Search",
                "Paid Search",
            )
            weights = session.execute(
                select(
                    func.sum(Attribution.linear_weight), func.sum(Attribution.linear_revenue)
                ).where(Attribution.deal_id == deal_id)
            ).one()
            assert (Decimal(weights[0]), Decimal(weights[1])) == (Decimal(1), revenue)
