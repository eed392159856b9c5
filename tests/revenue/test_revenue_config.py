"""``revenue.sources``: names that fit a deal ID, secrets from the file or the environment."""

from __future__ import annotations

import pytest

from connector.config import parse_config
from connector.errors import ConfigError

BASE = {"database": {"url": "sqlite://"}}


def test_a_secret_comes_from_a_file_and_never_prints(tmp_path):
    path = tmp_path / "shop.secret"
    path.write_text("from-the-file\n")
    settings = parse_config(
        {**BASE, "revenue": {"sources": {"shop": {"secret_file": str(path)}, "pos": None}}},
        env={},
    )
    secret = settings.revenue.sources["shop"].secret
    assert secret is not None and secret.get_secret_value().strip() == "from-the-file"
    assert "from-the-file" not in repr(settings.revenue)
    assert settings.revenue.sources["pos"].secret is None


def test_a_secret_comes_from_the_environment():
    raw = {**BASE, "revenue": {"sources": {"shop": {"secret": "${SHOP_SECRET}"}}}}
    settings = parse_config(raw, env={"SHOP_SECRET": "env-secret"})
    assert settings.revenue.sources["shop"].secret.get_secret_value() == "env-secret"


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        ({"Shop_1": {}}, "revenue.sources: Shop_1: a source name is 1 to 15 of a-z and 0-9"),
        ({"x" * 16: {}}, "a source name is 1 to 15"),
        ({"shop": {"secrt": "x"}}, "revenue.sources.shop.secrt: unknown key"),
    ],
)
def test_a_bad_source_names_its_key_path(sources, message):
    with pytest.raises(ConfigError) as caught:
        parse_config({**BASE, "revenue": {"sources": sources}}, env={})
    assert message in str(caught.value)
