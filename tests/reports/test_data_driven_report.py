"""The model comparison's data-driven columns, on a world small enough to compute by hand.

Journeys (November 2026): deal A (900 USD) came through Paid Search then Email; deal B (300 USD)
through Paid Search alone; two visitors came through Email and never bought.

Markov, order 1, by value. Transitions: start -> Paid Search 2/4, start -> Email 2/4;
Paid Search -> Email 1/2, -> conversion 1/2 (worth 300); Email -> conversion 1/3 (worth 900),
-> null 2/3. Expected value per journey: visits to Paid Search 1/2, converting there 1/4
(x 300 = 75); visits to Email 1/2 + 1/4 = 3/4, converting there 1/4 (x 900 = 225); total 300.
Without Paid Search: Email visited 1/2, converts 1/6, x 900 = 150: removal effect 1/2.
Without Email: 75 left: removal effect 3/4. Shares: Paid Search 0.5 / 1.25 = 0.4, Email 0.6.
Deal A: 360 / 540; deal B: 300 to Paid Search. Markov: Paid Search 660, Email 540.

Shapley by value: v({PS}) = 300, v({Em}) = 0, v({PS, Em}) = 1200: Paid Search 300 + 900/2 =
750, Email 450; shares 0.625 / 0.375. Deal A: 562.50 / 337.50; Shapley: Paid Search 862.50,
Email 337.50. Last click: Email 900, Paid Search 300.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from reports_conftest import add_attributions, nov

from connector.attribution import split_amount
from connector.reports.compare import model_comparison
from connector.reports.data_driven import deal_credit
from connector.reports.sources import ReportRange
from connector.storage.models import Deal, Touchpoint, Visitor

NOV = ReportRange(date(2026, 11, 1), date(2026, 11, 30))


def touch(tp_id: int, visitor: str, day: int, channel: str) -> Touchpoint:
    return Touchpoint(
        id=tp_id,
        visitor_id=visitor,
        occurred_at=nov(day),
        url="https://shop.example/",
        channel=channel,
        is_new_session=True,
    )


def won(deal_id: str, amount: str, day: int) -> Deal:
    return Deal(
        id=deal_id,
        amount=Decimal(amount),
        currency="USD",
        created_time=nov(day - 1),
        close_time=nov(day),
        is_won=True,
        is_closed=True,
        contact_ids=[],
        pipeline="default",
        stage="closedwon",
    )


def test_markov_and_shapley_columns_match_the_hand_computed_values(runtime):
    with runtime.sessions.begin() as s:
        s.add_all([Visitor(id=v) for v in ("va", "vb", "vc", "vd")])
        s.flush()
        a1, a2 = touch(1, "va", 2, "Paid Search"), touch(2, "va", 4, "Email")
        b1 = touch(3, "vb", 3, "Paid Search")
        s.add_all([a1, a2, b1, touch(4, "vc", 5, "Email"), touch(5, "vd", 6, "Email")])
        s.add_all([won("A", "900", 10), won("B", "300", 11)])
        s.flush()
        add_attributions(s, "A", "900", "USD", nov(10), [a1, a2])
        add_attributions(s, "B", "300", "USD", nov(11), [b1])
    with runtime.sessions() as s:
        data = model_comparison(s, NOV, currency="USD", bootstrap=10)
    rows = {r["group"]: r for r in data["rows"]}
    assert rows["Paid Search"]["revenue"]["markov"] == Decimal("660.00")
    assert rows["Email"]["revenue"]["markov"] == Decimal("540.00")
    assert rows["Paid Search"]["revenue"]["shapley"] == Decimal("862.50")
    assert rows["Email"]["revenue"]["shapley"] == Decimal("337.50")
    assert rows["Email"]["revenue"]["last_click"] == Decimal("900.00")
    assert rows["Email"]["moved_from_last_click"]["markov"] == Decimal("-360.00")
    learned = data["data_driven"]
    assert (learned["journeys"], learned["converting_journeys"]) == (4, 2)
    assert learned["shares"]["markov"]["Email"] == pytest.approx(0.6)
    assert learned["shares"]["shapley"]["Paid Search"] == pytest.approx(0.625)
    assert set(learned["stability"]) == {"Email", "Paid Search"}
    for band in learned["stability"].values():
        assert band["low"] <= band["high"]
    assert "markov" in data["models"] and "shapley" in data["models"]


@given(
    st.lists(st.sampled_from("abcd"), min_size=1, max_size=8),
    st.dictionaries(st.sampled_from("abcd"), st.floats(0, 1), max_size=4),
    st.decimals(min_value=0, max_value=10**9, places=2),
)
def test_a_deals_credit_sums_to_its_amount_to_the_cent(channels, shares, amount):
    """Whatever the learned shares, a deal's touches get cents adding up to its amount."""
    credit = deal_credit(channels, shares)
    assert sum(credit, Fraction(0)) == 1
    assert sum(split_amount(amount, credit)) == amount


def test_a_channel_with_no_learned_share_gets_nothing_of_a_mixed_journey():
    """A channel never seen converting takes no credit from a journey with a learned one."""
    credit = deal_credit(["new", "seen", "seen"], {"seen": 0.5, "new": 0.0})
    assert credit == [0, Fraction(1, 2), Fraction(1, 2)]
