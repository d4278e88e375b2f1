"""Parsing JSON that came from the network: bounded in nesting depth, so a body like `[[[[…]]]]` is a clear
client error instead of a RecursionError (a 500) here or in any code that walks the parsed value later."""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 32
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_OPEN, _CLOSE = frozenset("[{"), frozenset("]}")


class JSONInputError(ValueError):
    """The text is not JSON, or nests deeper than allowed; the message says which, in English (for `detail`)."""


class JSONTooDeep(JSONInputError):
    """Valid or not, the text nests deeper than any legitimate payload: refuse it (400) rather than ignore it."""


def nesting_depth(text: str) -> int:
    """The deepest bracket nesting outside string literals (not a validator: json.loads still decides)."""
    depth = deepest = 0
    for ch in _STRING.sub("", text):
        if ch in _OPEN:
            depth += 1
            deepest = max(deepest, depth)
        elif ch in _CLOSE:
            depth -= 1
    return deepest


def loads_bounded(text: str | bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JSONInputError("the JSON is not UTF-8 text") from exc
    if nesting_depth(text) > max_depth:
        raise JSONTooDeep(f"the JSON nests deeper than {max_depth} levels")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise JSONInputError("the body is not valid JSON") from exc
