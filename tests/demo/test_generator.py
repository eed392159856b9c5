"""The synthetic world is deterministic and contains the edge cases real data has."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connector.demo.generator import generate
from connector.identity import email_key

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def test_same_seed_same_world_and_different_seed_differs():
    """Two runs with the same seed and clock produce identical worlds; another seed does not."""
    a, b = generate(300, seed=7, now=NOW), generate(300, seed=7, now=NOW)
    assert a == b
    assert generate(300, seed=8, now=NOW) != a


def test_world_has_the_edge_cases():
    """Old clicks, untracked contacts, messy emails, shared and changing deals all occur."""
    world = generate(400, seed=7, now=NOW)
    assert any(c.ts < NOW - timedelta(days=90) for c in world.clicks if c.platform == "google_ads")
    assert {c.kind for c in world.clicks} >= {"gclid", "gbraid", "wbraid", "fbclid"}
    assert world.untracked_contacts
    messy = [lead for lead in world.leads if lead.email_typed != lead.crm_email]
    assert messy
    # Messy spellings still normalise to the same person as the CRM's address.
    assert all(email_key(lead.email_typed) == email_key(lead.crm_email) for lead in messy)
    assert any(len(deal.contact_emails) > 1 for deal in world.deals)
    assert any(deal.reprice_to for deal in world.deals)
    assert any(deal.reopen for deal in world.deals)
    assert {deal.currency for deal in world.deals} >= {"USD", "GBP"}
    assert any(lead.kind == "call" for lead in world.leads)
    assert any(len(lead.visitor_ids) > 1 for lead in world.leads)


def test_deals_close_after_their_lead_and_not_too_recently():
    """Closes follow the lead and are at least 7 hours old (Google's 6-hour minimum)."""
    world = generate(300, seed=3, now=NOW)
    for deal in world.deals:
        close = deal.stages[-1][1]
        assert close <= NOW - timedelta(hours=7)
        assert [t for _, t in deal.stages] == sorted(t for _, t in deal.stages)
