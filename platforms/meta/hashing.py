"""How Meta wants emails and phones before they are hashed (the ``em``/``ph`` parameters).

Meta hashes the address as typed, trimmed and lower-cased (no Gmail dot folding) and the
phone as digits with the country code and no ``+``; the normalisation primitives live in
``connector.identity``, checked there against Meta's own ``capi-param-builder`` normaliser.
"""

from __future__ import annotations

from connector.identity import meta_email_hash, meta_phone_hash
from platforms.base import Hashing

META_HASHING = Hashing("meta", email=meta_email_hash, phone=meta_phone_hash)
