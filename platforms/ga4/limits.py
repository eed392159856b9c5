"""GA4 Measurement Protocol limits, as documented (see shared/platform-limits.md).

One list of facts for both sides: the adapter checks events before sending, and the sandbox
rejects what Google's validation server rejects.
"""

from __future__ import annotations

import re
from datetime import timedelta

BACKDATE_LIMIT = timedelta(hours=72)  # how far back timestamp_micros may reach
MAX_BODY_BYTES = 130_000  # "smaller than 130kB": the stricter (decimal) reading
MAX_EVENTS = 25
MAX_PARAMS = 25
MAX_NAME = 40
MAX_PARAM_VALUE = 100
MAX_ITEMS = 200
MAX_USER_ID = 256
MAX_USER_PROPERTIES = 25
MAX_USER_PROPERTY_NAME = 24
MAX_USER_PROPERTY_VALUE = 36
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
RESERVED_EVENTS = frozenset(
    {
        "ad_activeview", "ad_click", "ad_exposure", "ad_impression", "ad_query", "ad_reward",
        "adunit_exposure", "app_background", "app_clear_data", "app_exception", "app_install",
        "app_remove", "app_store_refund", "app_store_subscription_cancel",
        "app_store_subscription_convert", "app_store_subscription_renew", "app_update",
        "app_upgrade", "dynamic_link_app_open", "dynamic_link_app_update",
        "dynamic_link_first_open", "error", "firebase_campaign",
        "firebase_in_app_message_action", "firebase_in_app_message_dismiss",
        "firebase_in_app_message_impression", "first_open", "first_visit", "in_app_purchase",
        "notification_dismiss", "notification_foreground", "notification_open",
        "notification_receive", "notification_send", "os_update", "page_view", "screen_view",
        "session_start", "session_start_with_rollout", "user_engagement",
    }
)  # fmt: skip
RESERVED_PREFIXES = ("_", "firebase_", "ga_", "google_", "gtag.")
RESERVED_PARAMS = frozenset({"firebase_conversion"})
#: User property names GA4 reserves (Measurement Protocol reference, "Reserved names").
RESERVED_USER_PROPERTIES = frozenset(
    {
        "first_open_time",
        "first_visit_time",
        "last_deep_link_referrer",
        "user_id",
        "first_open_after_install",
    }
)
RESERVED_USER_PROPERTY_PREFIXES = ("google_", "ga_", "firebase_")
