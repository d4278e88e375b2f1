"""Translatable text with parameters, kept as (msgid, params) so a stored report renders in any locale later.

Every msgid is marked with `N_()` where it is written, so Babel's extractor finds it; `render()` translates at the
moment of display (the request's locale, or an explicit one for the CLI and exports).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from web.i18n import gettext, translate

Param = str | int | float


class _Params(dict[str, Param]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@dataclass(frozen=True)
class Text:
    msgid: str
    params: Mapping[str, Param] = field(default_factory=dict)

    def render(self, locale: str | None = None) -> str:
        template = translate(self.msgid, locale) if locale else gettext(self.msgid)
        if not self.params:
            return template
        values = _Params(self.params)
        try:  # a stored report may predate a msgid change: a missing parameter shows as {name}, never raises
            return template.format_map(values)
        except (IndexError, ValueError):  # a translation with a broken placeholder: show the English
            try:
                return self.msgid.format_map(values)
            except (IndexError, ValueError):
                return self.msgid

    def with_params(self, **params: Param) -> Text:
        return Text(self.msgid, {**self.params, **params})

    def to_json(self) -> dict[str, Any]:
        return {"msgid": self.msgid, "params": dict(self.params)} if self.params else {"msgid": self.msgid}

    @classmethod
    def from_json(cls, raw: Any) -> Text | None:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("msgid"), str):
            return None
        params = raw.get("params") or {}
        clean = {str(k): v for k, v in params.items() if isinstance(v, str | int | float)} if isinstance(
            params, Mapping) else {}
        return cls(raw["msgid"], clean)


def t(msgid: str, **params: Param) -> Text:
    return Text(msgid, params)
