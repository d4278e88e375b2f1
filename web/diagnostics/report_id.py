"""Short report IDs that survive being read over the phone: 8 Crockford base32 characters (40 random bits), shown
as two groups of four (`7KQ2-M9XD`). The alphabet has no I, L, O or U; when typing one in, lowercase, spaces and
dashes are accepted and O/I/L are read as 0/1/1, as Crockford's decoding rules say."""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 8
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_report_id() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def display_id(report_id: str) -> str:
    return f"{report_id[:4]}-{report_id[4:]}" if len(report_id) == LENGTH else report_id


def normalize_report_id(text: str) -> str | None:
    """The canonical ID for what someone typed, or None when it cannot be one."""
    cleaned = "".join(text.split()).replace("-", "").upper().translate(_READ_AS)
    if len(cleaned) != LENGTH or any(ch not in ALPHABET for ch in cleaned):
        return None
    return cleaned
