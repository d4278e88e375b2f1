"""Translations: zh-CN first, English second.

Message ids are English; the zh_CN catalog (web/locale/zh_CN/LC_MESSAGES/messages.po, a Babel catalog) holds the
Chinese. Catalogs are read once at import. The request's locale lives in a context variable set by
`LocaleMiddleware`, so `gettext` works in templates, routes and any code a request runs.
"""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path

from babel.messages.pofile import read_po
from starlette.types import ASGIApp, Receive, Scope, Send

from web.security.cookies import read_cookies

DEFAULT_LOCALE = "zh-CN"
LOCALES = ("zh-CN", "en")
LOCALE_NAMES = {"zh-CN": "中文", "en": "English"}
LANG_COOKIE = "lang"
_LOCALE_DIR = Path(__file__).parent / "locale"

current_locale: ContextVar[str] = ContextVar("current_locale", default=DEFAULT_LOCALE)


def _load_catalog(folder: str) -> dict[str, str]:
    path = _LOCALE_DIR / folder / "LC_MESSAGES" / "messages.po"
    if not path.is_file():
        return {}
    with path.open("rb") as fh:
        catalog = read_po(fh)
    return {str(m.id): str(m.string) for m in catalog if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}


_CATALOGS: dict[str, dict[str, str]] = {"zh-CN": _load_catalog("zh_CN"), "en": {}}


def gettext(message: str) -> str:
    return _CATALOGS.get(current_locale.get(), {}).get(message, message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return gettext(singular if n == 1 else plural)


_ = gettext


def N_(message: str) -> str:  # noqa: N802 - the conventional name Babel's extractor looks for
    """Marks a constant as a message id for extraction; translation happens where it is shown."""
    return message


def translate(message: str, locale: str) -> str:
    return _CATALOGS.get(locale, {}).get(message, message)


def negotiate(accept_language: str, cookie_value: str | None) -> str:
    if cookie_value in LOCALES:
        return str(cookie_value)
    ranked: list[tuple[float, str]] = []
    for part in accept_language.split(","):
        tag, _sep, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            ranked.append((quality, tag.lower()))
    for _q, tag in sorted(ranked, key=lambda item: -item[0]):
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LOCALE


class LocaleMiddleware:
    """Pure ASGI: pick the locale from the `lang` cookie or Accept-Language and expose it for the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers", [])
        accept = next((v.decode("latin-1") for k, v in headers if k == b"accept-language"), "")
        locale = negotiate(accept, read_cookies(scope).get(LANG_COOKIE))
        scope.setdefault("state", {})["locale"] = locale
        token = current_locale.set(locale)
        try:
            await self.app(scope, receive, send)
        finally:
            current_locale.reset(token)
