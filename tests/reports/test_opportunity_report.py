"""The opportunity report against a hand-computed stage fixture (SQLite and PostgreSQL).

Pipeline ``default`` (display order): Appointment, Qualified, Contract, Won, Lost; pipeline
``renewals``: Renewal due, Renewed. Deals created in November 2026:

| deal | first touch    | last touch     | stages entered                       | now       |
| ---- | -------------- | -------------- | ------------------------------------ | --------- |
| A    | Paid Search    | Organic Search | appt, qualified, contract, won       | won       |
| B    | Paid Search    | Paid Search    | appt, qualified                      | qualified |
| C    | Paid Search    | Paid Search    | appt, lost                           | lost      |
| D    | Organic Search | Organic Search | appt                                 | appt      |
| E    | (none)         | (none)         | appt, qualified                      | qualified |
| G    | Paid Search    | Paid Search    | renewal due, renewed (renewals)      | renewed   |
| H    | Paid Search    | Paid Search    | appt, won (skips two stages)         | won       |
| F    | Paid Search    | Paid Search    | appt (created in October: left out)  | appt      |

A deal that skipped a stage has passed through it (H counts as having reached qualified and
contract). First touch, Paid Search: appointment reached 4 (A, B, C, H); qualified 3
(3/4 = 75 %), contract 2 (2/3 = 66.67 %), won 2 (2/2 = 100 %); lost is off the path (1 entered,
no rate); renewals start afresh (renewal due: no rate; renewed 1/1). Organic Search: qualified
0/1 = 0 %, then undefined.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import delete

from connector.reports import ReportRange, opportunity_report
from connector.storage.models import CrmStage, Deal, DealStageEvent

NOV = ReportRange(date(2026, 11, 1), date(2026, 11, 30))
STAGES = [  # listed out of order on purpose: the report must follow display_order
    ("default", "closedlost", "Lost", 4, True, False),
    ("default", "appt", "Appointment", 0, False, False),
    ("renewals", "renewed", "Renewed", 1, True, True),
    ("default", "contract", "Contract", 2, False, False),
    ("default", "closedwon", "Won", 3, True, True),
    ("default", "qualified", "Qualified", 1, False, False),
    ("renewals", "due", "Renewal due", 0, False, False),
]
DEALS = {
    "A": ("Paid Search", "Organic Search", ["appt", "qualified", "contract", "closedwon"], 5),
    "B": ("Paid Search", "Paid Search", ["appt", "qualified"], 6),
    "C": ("Paid Search", "Paid Search", ["appt", "closedlost"], 7),
    "D": ("Organic Search", "Organic Search", ["appt"], 8),
    "E": (None, None, ["appt", "qualified"], 9),
    "G": ("Paid Search", "Paid Search", ["due", "renewed"], 10),
    "H": ("Paid Search", "Paid Search", ["appt", "closedwon"], 11),
}


@pytest.fixture
def stages_db(runtime):
    with runtime.sessions.begin() as s:
        s.add_all(
            CrmStage(
                pipeline=p, stage=st, label=label, display_order=o, is_closed=closed, is_won=won
            )
            for p, st, label, o, closed, won in STAGES
        )
        all_deals = {**DEALS, "F": ("Paid Search", "Paid Search", ["appt"], -1)}
        for deal_id, (first, last, path, day) in all_deals.items():
            created = (
                datetime(2026, 10, 20, tzinfo=UTC)
                if day < 0
                else datetime(2026, 11, day, tzinfo=UTC)
            )
            pipeline = "renewals" if deal_id == "G" else "default"
            s.add(
                Deal(
                    id=deal_id,
                    pipeline=pipeline,
                    stage=path[-1],
                    amount=Decimal("100"),
                    currency="USD",
                    created_time=created,
                    is_won=path[-1] in ("closedwon", "renewed"),
                    is_closed=path[-1] in ("closedwon", "closedlost", "renewed"),
                    first_touch_channel=first,
                    first_touch_source="google / cpc" if first == "Paid Search" else None,
                    last_touch_channel=last,
                )
            )
            s.flush()
            s.add_all(
                DealStageEvent(deal_id=deal_id, pipeline=pipeline, stage=stage, entered_at=created)
                for stage in path
            )
    return runtime


def funnel(runtime, touch="first", by="channel"):
    with runtime.sessions() as s:
        data = opportunity_report(s, NOV, touch=touch, by=by)
    return data, {
        row["group"]: (row["total"], {st["stage"]: st for st in row["stages"]})
        for row in data["rows"]
    }


def test_stages_follow_the_pipelines_display_order(stages_db):
    """Columns are the CRM's stages in display order, pipeline by pipeline."""
    data, _ = funnel(stages_db)
    assert [s["key"] for s in data["stages"]] == [
        "default:appt",
        "default:qualified",
        "default:contract",
        "default:closedwon",
        "default:closedlost",
        "renewals:due",
        "renewals:renewed",
    ]
    assert [s["label"] for s in data["stages"]][:2] == ["Appointment", "Qualified"]


def test_first_touch_counts_and_stage_conversion(stages_db):
    """Current-stage counts and stage-to-stage rates per first-touch channel, as computed."""
    _, rows = funnel(stages_db)
    total, paid = rows["Paid Search"]
    assert total == 5  # A, B, C, G, H (F was created in October)
    current = {k: v["current"] for k, v in paid.items()}
    assert current == {
        "default:appt": 0,
        "default:qualified": 1,
        "default:contract": 0,
        "default:closedwon": 2,
        "default:closedlost": 1,
        "renewals:due": 0,
        "renewals:renewed": 1,
    }
    reached = [
        paid[f"default:{st}"]["reached"] for st in ("appt", "qualified", "contract", "closedwon")
    ]
    assert reached == [4, 3, 2, 2]
    assert paid["default:closedlost"]["reached"] == 1
    rates = {k: v["conversion_from_previous"] for k, v in paid.items()}
    assert rates == {
        "default:appt": None,
        "default:qualified": Decimal("0.75"),
        "default:contract": Decimal("0.6667"),
        "default:closedwon": Decimal("1"),
        "default:closedlost": None,
        "renewals:due": None,
        "renewals:renewed": Decimal("1"),
    }
    total, organic = rows["Organic Search"]
    assert total == 1
    assert organic["default:qualified"]["conversion_from_previous"] == 0
    assert organic["default:contract"]["conversion_from_previous"] is None
    total, no_journey = rows["(no journey)"]
    assert total == 1 and no_journey["default:qualified"]["current"] == 1


def test_last_touch_regroups_the_same_deals(stages_db):
    """Last touch moves deal A from Paid Search to Organic Search."""
    _, rows = funnel(stages_db, touch="last")
    assert rows["Organic Search"][0] == 2  # A and D
    assert rows["Paid Search"][0] == 4  # B, C, G, H
    assert rows["Organic Search"][1]["default:closedwon"]["current"] == 1


def test_by_source_uses_the_touch_source(stages_db):
    """Grouping by source uses first_touch_source; deals without one are '(no journey)'."""
    _, rows = funnel(stages_db, by="source")
    assert rows["google / cpc"][0] == 5
    assert rows["(no journey)"][0] == 2  # D (organic, no source stored) and E


def test_rejects_unknown_touch():
    """Only first and last touch exist."""
    with pytest.raises(ValueError, match="touch"):
        opportunity_report(None, NOV, touch="middle")  # type: ignore[arg-type]


def test_without_pipelines_stages_come_from_history(stages_db):
    """Before the first pipelines pull, stages come from the history and count direct entries."""
    with stages_db.sessions.begin() as s:
        s.execute(delete(CrmStage))
    data, rows = funnel(stages_db)
    assert {st["key"] for st in data["stages"]} == {
        "default:appt",
        "default:qualified",
        "default:contract",
        "default:closedwon",
        "default:closedlost",
        "renewals:due",
        "renewals:renewed",
    }
    paid = rows["Paid Search"][1]
    assert paid["default:qualified"]["reached"] == 2  # A and B entered it; H skipped it
    assert paid["default:closedwon"]["reached"] == 2
