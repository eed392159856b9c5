"""Planning's shortcuts give what the plain definitions give (stored identifiers, memos)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connector.config import Settings
from connector.identity import email_key, meta_email_hash, meta_phone_hash, phone_key
from connector.mapping import EventRule
from connector.sync import hashing
from connector.sync import identifiers as ids
from connector.sync.match import Click, Journey, Touch, VisitorInfo
from connector.sync.plan import PlanSettings
from platforms.base import Identifiers
from platforms.crm import CrmContact

NOW = datetime(2026, 11, 20, tzinfo=UTC)
FIELDS = list(Identifiers.__dataclass_fields__)


def journey() -> Journey:
    touch = Touch(1, "v1", NOW - timedelta(days=2), "Paid Search", None, {}, "GA1", "S1",
                  None, "fbp1", None, False)  # fmt: skip
    return Journey(
        "d1",
        "matched",
        (
            CrmContact(id="c1", email="A.B@gmail.com", phone="+1 415 555 0123"),
            CrmContact(id="c2", email="ab@gmail.com", phone="+1 415 555 0123"),
        ),
        [touch],
        [Click("gbraid", "B1", touch.time, 1), Click("fbclid", "F1", touch.time, 1)],
        [VisitorInfo("v1", None, None, None, None, "UA", True, True)],
    )


def test_stored_identifiers_are_the_dataclass_json_in_field_order():
    """Each destination's stored dict equals Identifiers(...).to_json(), keys in field order."""
    j = journey()
    facts = ids.JourneyFacts(j, "US")
    for dest in ("google_ads", "ga4", "meta"):
        stored, click_time = ids.stored(dest, facts, ids.last_unit(dest, j))
        assert stored == Identifiers.from_json(stored).to_json()
        assert list(stored) == [f for f in FIELDS if f in stored]
        assert click_time is None or stored["click_time"] == click_time.isoformat()
    google, _ = ids.stored("google_ads", facts, ids.last_unit("google_ads", j))
    assert google["gbraid"] == "B1" and "gclid" not in google
    assert google["email_sha256"] == [email_key("ab@gmail.com")]  # Gmail dots fold into one
    assert google["phone_sha256"] == [phone_key("+14155550123")]
    # The touch's signal (None, False) beats the visitor's stored (True, True).
    assert "consent_ad_user_data" not in google and google["consent_ad_personalization"] is False
    assert "user_agent" not in google
    meta, _ = ids.stored("meta", facts, ids.last_unit("meta", j))
    assert meta["email_sha256"] == [
        meta_email_hash("a.b@gmail.com"),
        meta_email_hash("ab@gmail.com"),
    ]
    assert meta["phone_sha256"] == [meta_phone_hash("+14155550123")]
    assert (meta["fbclid"], meta["fbp"], meta["user_agent"]) == ("F1", "fbp1", "UA")


def test_rows_never_share_lists():
    """Every row gets its own hash lists, so changing one row cannot change another."""
    j = journey()
    facts = ids.JourneyFacts(j, "US")
    a, _ = ids.stored("google_ads", facts, ids.NO_UNIT)
    b, _ = ids.stored("ga4", facts, ids.NO_UNIT)
    assert a["email_sha256"] == b["email_sha256"] and a["email_sha256"] is not b["email_sha256"]


def test_rule_resolution_is_memoised_per_rule_object():
    """Resolved once per run and rule; a new rule object gets its own entry."""
    cfg = PlanSettings(Settings(), ("google_ads", "meta"), NOW)
    rule = EventRule(name="won rule", when={"deal_won": True}, platforms={"meta": {"x": 1}})
    first = cfg.resolve(rule)
    assert cfg.resolve(rule) is first
    assert first.key_part == "won_rule"
    assert [t.destination for t in first.targets] == ["meta"]
    assert first.targets[0].options == {"x": 1, "rule": "won rule"}
    other = EventRule(name="other", when={"deal_won": True})
    assert [t.destination for t in cfg.resolve(other).targets] == ["google_ads", "meta"]


def test_forget_clears_the_phone_pair_memo():
    """The per-page privacy rule covers the combined phone memo too."""
    hashing.phone_hashes("+1 415 555 0123", "US")
    assert hashing.phone_hashes.cache_info().currsize
    hashing.forget()
    assert hashing.phone_hashes.cache_info().currsize == 0
