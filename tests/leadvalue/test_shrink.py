"""Lead values: the empirical-Bayes shrinkage and the grouping, against hand-computed numbers."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from connector.leadvalue.cohort import StageEntry
from connector.leadvalue.learn import values_from
from connector.leadvalue.shrink import shrunk

D = Decimal
AT = datetime(2026, 11, 1, tzinfo=UTC)


def test_small_sample_is_pulled_toward_the_overall_value():
    """3 leads won 3,000 (mean 1,000), overall 750, k=2: (3000 + 2*750)/(3+2) = 900."""
    assert shrunk(3, D(3000), D(750), D(2)) == D("900.00")


def test_a_source_without_revenue_gets_part_of_the_overall_value():
    """1 lead, no revenue, overall 750, k=2: (0 + 1500)/3 = 500."""
    assert shrunk(1, D(0), D(750), D(2)) == D("500.00")


def test_no_leads_of_its_own_means_the_overall_value():
    """n=0: (0 + 20*750)/20 = 750, the overall value itself."""
    assert shrunk(0, D(0), D(750), D(20)) == D("750.00")


def test_a_large_sample_keeps_close_to_its_own_mean():
    """1,000 leads won 1,000,000, overall 750, k=20: 1,015,000/1,020 = 995.098... -> 995.10."""
    assert shrunk(1000, D(1_000_000), D(750), D(20)) == D("995.10")


def test_zero_prior_weight_is_the_raw_mean_rounded_to_the_cent():
    """k=0: 100/3 = 33.333... -> 33.33."""
    assert shrunk(3, D(100), D(0), D(0)) == D("33.33")


def test_negative_inputs_are_refused():
    """A negative revenue is a bug upstream, not something to learn from."""
    with pytest.raises(ValueError):
        shrunk(1, D(-1), D(0), D(1))


def _entry(key: str, stage: str, channel: str, campaign: str) -> StageEntry:
    return StageEntry(key, stage, AT, None, key, channel, campaign)


def test_values_per_stage_channel_and_campaign():
    """4 MQLs: Paid Search (brand x2, generic x1) won 3,000 on one brand lead; Organic 1 lead.

    Overall 3000/4 = 750. k=2. Paid Search: (3000+1500)/5 = 900. Organic: 1500/3 = 500.
    brand: (3000+1500)/4 = 1125. generic: (0+1500)/3 = 500. Organic's campaign "(not set)"
    has the same single lead: 500.
    """
    entries = [
        _entry("c1", "mql", "Paid Search", "brand"),
        _entry("c2", "mql", "Paid Search", "brand"),
        _entry("c3", "mql", "Paid Search", "generic"),
        _entry("c4", "mql", "Organic Search", "(not set)"),
    ]
    learned = values_from(entries, {("c1", "mql"): D(3000)}, D(2))
    got = {(v.stage, v.channel, v.campaign): (v.n, v.revenue, v.value) for v in learned}
    assert got == {
        ("mql", "", ""): (4, D(3000), D("750.00")),
        ("mql", "Paid Search", ""): (3, D(3000), D("900.00")),
        ("mql", "Paid Search", "brand"): (2, D(3000), D("1125.00")),
        ("mql", "Paid Search", "generic"): (1, D(0), D("500.00")),
        ("mql", "Organic Search", ""): (1, D(0), D("500.00")),
        ("mql", "Organic Search", "(not set)"): (1, D(0), D("500.00")),
    }
    assert {v.overall for v in learned} == {D(750)}
    assert {v.prior_weight for v in learned} == {D(2)}


def test_stages_are_learned_apart():
    """An SQL's revenue never counts toward the MQL value of the same contact."""
    entries = [_entry("c1", "mql", "Email", "x"), _entry("c1", "sql", "Email", "x")]
    learned = values_from(entries, {("c1", "sql"): D(500)}, D(0))
    overall = {v.stage: v.value for v in learned if v.channel == ""}
    assert overall == {"mql": D("0.00"), "sql": D("500.00")}


def test_the_readme_worked_example():
    """README: 4 Paid Search MQLs won 6,000, 1 Organic won 0, k=2: 1,200 / 1,400 / 800."""
    entries = [_entry(f"c{n}", "mql", "Paid Search", "x") for n in range(1, 5)]
    entries.append(_entry("c5", "mql", "Organic Search", "y"))
    revenue = {("c1", "mql"): D(4000), ("c2", "mql"): D(2000)}
    values = {(v.channel, v.campaign): v.value for v in values_from(entries, revenue, D(2))}
    assert values[("", "")] == D("1200.00")
    assert values[("Paid Search", "")] == D("1400.00")
    assert values[("Organic Search", "")] == D("800.00")
