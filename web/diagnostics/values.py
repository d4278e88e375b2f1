"""Reading measured values posted by a browser or the CLI: every field is optional and untrusted, so each accessor
coerces or returns None, never raises, and bounds sizes (the payload ends up in a stored report)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

MAX_TEXT = 300
MAX_LIST = 100


class Values:
    def __init__(self, raw: Mapping[str, Any] | None) -> None:
        self.raw: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}

    def num(self, key: str) -> float | None:
        value = self.raw.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            return None
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None

    def integer(self, key: str) -> int | None:
        number = self.num(key)
        return int(round(number)) if number is not None else None

    def text(self, key: str, default: str = "", limit: int = MAX_TEXT) -> str:
        value = self.raw.get(key)
        return value[:limit] if isinstance(value, str) else default

    def flag(self, key: str) -> bool | None:
        value = self.raw.get(key)
        return value if isinstance(value, bool) else None

    def texts(self, key: str, limit: int = MAX_TEXT) -> list[str]:
        value = self.raw.get(key)
        if not isinstance(value, list):
            return []
        return [item[:limit] for item in value[:MAX_LIST] if isinstance(item, str)]

    def dicts(self, key: str) -> list[Values]:
        value = self.raw.get(key)
        if not isinstance(value, list):
            return []
        return [Values(item) for item in value[:MAX_LIST] if isinstance(item, Mapping)]

    def sub(self, key: str) -> Values:
        value = self.raw.get(key)
        return Values(value if isinstance(value, Mapping) else None)


def clean_json(value: Any, depth: int = 0) -> Any:
    """A bounded, JSON-safe copy of posted data, for storing in a report."""
    if depth > 4:
        return None
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value[:MAX_TEXT]
    if isinstance(value, Mapping):
        return {str(k)[:60]: clean_json(v, depth + 1) for k, v in list(value.items())[:40]}
    if isinstance(value, list | tuple):
        return [clean_json(v, depth + 1) for v in value[:MAX_LIST]]
    return None
