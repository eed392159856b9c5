"""The browser's IP address as the platforms want it: the client's, not a proxy's.

Meta matches better with the visitor's IP (``client_ip_address``). Behind reverse proxies the
connection comes from the last proxy, so with ``tracking.forwarded_hops`` = n the address is
the n-th entry from the right of ``X-Forwarded-For`` (entries further left are whatever the
client claimed and are never trusted). Anything that is not an IP address is dropped.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import partial
from typing import Any


def client_ip(remote_addr: str | None, forwarded_for: str | None, hops: int) -> str | None:
    """The client's IP address in canonical form, or None if it cannot be told."""
    candidate = remote_addr
    if hops > 0:
        entries = [e.strip() for e in (forwarded_for or "").split(",") if e.strip()]
        candidate = entries[-hops] if len(entries) >= hops else None
    if not candidate:
        return None
    try:
        return str(ipaddress.ip_address(candidate.strip("[]")))
    except ValueError:
        return None


def from_settings(
    tracking: Any, trusted_proxies: int = 0
) -> Callable[[str | None, str | None], str | None]:
    """``(remote_addr, forwarded_for) -> ip`` for these tracking settings (never one if 0 days).

    With ``server.trusted_proxies`` set, the app's ProxyFix has already put the client's address
    in ``remote_addr``: reading X-Forwarded-For again would count the hops twice.
    """
    if tracking.ip_retention_days <= 0:
        return _none
    return partial(_from_hops, 0 if trusted_proxies else tracking.forwarded_hops)


def _from_hops(hops: int, remote_addr: str | None, forwarded_for: str | None) -> str | None:
    return client_ip(remote_addr, forwarded_for, hops)


def _none(remote_addr: str | None, forwarded_for: str | None) -> None:
    return None
