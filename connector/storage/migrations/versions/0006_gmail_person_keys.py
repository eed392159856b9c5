"""Re-key persons whose Gmail address carried a ``+tag``: Google's form drops it now.

closedloop's person key is SHA-256 of Google's email form. Google's Data Manager formatting
guide removes the dots *and* a ``+tag`` from gmail.com/googlemail.com local parts; keys made
before this revision removed only the dots, so ``john.doe+promo@gmail.com`` was keyed as
``johndoe+promo@gmail.com`` and no longer matches what the sync computes from the CRM.

What is re-keyed: every person whose plain address is stored (``persons.email``: kept while
the CRM write-back is pending, or always with ``tracking.store_plain_email``), and the
lifecycle rows that carried the old key. A hash cannot be re-keyed without its address;
persons without one keep their key and are matched by ``crm_contact_id``, which the write-back
sets in the same step that clears the address.

Two persons whose keys collide after re-keying are the same inbox typed two ways, so they are
merged into the older one (lowest id): its visitors and leads move over, it takes the other's
phone, CRM contact and address where it has none, and the other row goes. Nothing is lost: a
journey is its visitors and leads, and both now point at the survivor. An address that has no
Google form any more (``+promo@gmail.com``) keeps its person and key untouched.

The email rule is written out here, not imported, so this revision does the same thing
whatever later code says. Downgrading does nothing: the new keys and merges are kept (the
older code only computes different keys for tagged Gmail addresses, and would start new
persons for them).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 04:00:00.000000
"""

from __future__ import annotations

import hashlib
import re

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_FILL = ("phone_sha256", "phone_e164", "crm_contact_id", "email")


def _google_key(email: str) -> str | None:
    """SHA-256 hex of the address in the Data Manager guide's form, None if it has none."""
    value = email.strip()
    if not value or re.search(r"\s", value):
        return None
    parts = value.lower().split("@")
    if len(parts) != 2 or not parts[0] or not re.fullmatch(r".+\..+", parts[1]):
        return None
    local, domain = parts
    if domain in ("gmail.com", "googlemail.com"):
        local = local.split("+", 1)[0].replace(".", "")
        if not local:
            return None
    return hashlib.sha256(f"{local}@{domain}".encode()).hexdigest()


def upgrade() -> None:
    conn = op.get_bind()
    # Only a '+' can make the keys differ (stored addresses passed the old rule), so the scan
    # reads the few tagged addresses, not every person.
    rows = conn.execute(
        sa.text(
            "SELECT id, email, email_sha256 FROM persons "
            "WHERE email IS NOT NULL AND email LIKE '%+%' ORDER BY id"
        )
    ).all()
    gone: set[int] = set()
    for person_id, email, old_key in rows:
        new_key = _google_key(email)
        if person_id in gone or new_key is None or new_key == old_key:
            continue
        holder = conn.execute(
            sa.text("SELECT id FROM persons WHERE email_sha256 = :k"), {"k": new_key}
        ).scalar()
        if holder is None:
            conn.execute(
                sa.text("UPDATE persons SET email_sha256 = :k WHERE id = :id"),
                {"k": new_key, "id": person_id},
            )
        else:
            survivor, merged = min(holder, person_id), max(holder, person_id)
            _merge(conn, survivor, merged)
            gone.add(merged)
            conn.execute(
                sa.text("UPDATE persons SET email_sha256 = :k WHERE id = :id"),
                {"k": new_key, "id": survivor},
            )
        if old_key:
            conn.execute(
                sa.text("UPDATE lifecycle_events SET email_sha256 = :k WHERE email_sha256 = :o"),
                {"k": new_key, "o": old_key},
            )


def _merge(conn: sa.Connection, survivor: int, merged: int) -> None:
    """Move ``merged``'s visitors and leads to ``survivor``, fill its blanks, delete ``merged``."""
    for table in ("visitors", "leads"):
        conn.execute(
            sa.text(f"UPDATE {table} SET person_id = :s WHERE person_id = :m"),
            {"s": survivor, "m": merged},
        )
    columns = ", ".join(_FILL)
    keep, other = (
        conn.execute(sa.text(f"SELECT {columns} FROM persons WHERE id = :id"), {"id": pid}).one()
        for pid in (survivor, merged)
    )
    filled = {c: o for c, k, o in zip(_FILL, keep, other, strict=True) if k is None and o}
    conn.execute(sa.text("DELETE FROM persons WHERE id = :id"), {"id": merged})
    if filled:
        sets = ", ".join(f"{c} = :{c}" for c in filled)
        conn.execute(
            sa.text(f"UPDATE persons SET {sets} WHERE id = :id"),
            {**filled, "id": survivor},
        )


def downgrade() -> None:
    """Nothing to undo: see the module docstring."""
