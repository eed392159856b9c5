"""The revenue source pages every stored sale once, in order, whatever the page size."""

from __future__ import annotations

from datetime import timedelta

from connector.revenue.source import RevenueSource
from connector.revenue.store import store_sales
from connector.storage.models import utcnow
from tests.revenue.conftest import sale


def test_pages_cover_every_sale_once_even_with_equal_times(revenue_runtime):
    """Five sales stored in two calls at the same instant, pages of two: each seen once."""
    now = utcnow()
    store_sales(
        revenue_runtime.sessions, [{**sale(str(i)), "source": "shop"} for i in range(3)], now
    )
    store_sales(
        revenue_runtime.sessions, [{**sale(str(i)), "source": "pos"} for i in range(2)], now
    )
    source = RevenueSource(revenue_runtime.sessions, page_size=2)
    pages = list(source.deals_changed_since(None))
    assert [len(p) for p in pages] == [2, 2, 1]
    ids = [d.id for p in pages for d in p]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 5
    assert list(source.deals_changed_since(now + timedelta(seconds=1))) == []


def test_a_sale_becomes_a_won_deal_and_a_refund_a_lost_one(revenue_runtime):
    store_sales(
        revenue_runtime.sessions, [{**sale("9", email="a@b.co"), "source": "shop"}], utcnow()
    )
    (deal,) = RevenueSource(revenue_runtime.sessions).deals_by_id(["revenue:shop:9"])
    assert (deal.pipeline, deal.stage, deal.is_closed_won) == ("revenue:shop", "sale", True)
    assert deal.contacts[0].email == "a@b.co" and deal.contacts[0].id == "revenue:shop:9"
    refund = {**sale("9", email="a@b.co"), "source": "shop", "status": "refunded"}
    store_sales(revenue_runtime.sessions, [refund], utcnow())
    (deal,) = RevenueSource(revenue_runtime.sessions).deals_by_id(["revenue:shop:9"])
    assert (deal.stage, deal.is_closed_won) == ("refunded", False)
