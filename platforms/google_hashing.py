"""How Google (Ads and GA4) wants emails and phones before they are hashed.

Google's rule: trim and lower-case, drop dots and ``+suffix`` before ``@`` of gmail.com and
googlemail.com addresses, phones in E.164 with the ``+``. The primitives live in
``connector.identity``, checked there against Google's ``google-ads-datamanager-util``
formatter; this is the declaration the Google destinations use.
"""

from __future__ import annotations

from connector.identity import email_key, phone_key
from platforms.base import Hashing

GOOGLE_HASHING = Hashing("google", email=email_key, phone=phone_key)
