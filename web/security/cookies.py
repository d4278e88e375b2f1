"""Reading request cookies and writing Set-Cookie headers at the ASGI level."""

from __future__ import annotations

from http.cookies import SimpleCookie

from starlette.types import Scope


def read_cookies(scope: Scope) -> dict[str, str]:
    """The request's cookies, parsed once per request (locale, CSRF and auth middleware all read them)."""
    cached = scope.get("_parsed_cookies")
    if cached is not None:
        return dict(cached)
    cookies: dict[str, str] = {}
    for key, value in scope.get("headers", []):
        if key != b"cookie":
            continue
        for item in value.decode("latin-1").split(";"):
            name, sep, val = item.strip().partition("=")
            if sep and name and name not in cookies:
                cookies[name] = val.strip().strip('"')
    scope["_parsed_cookies"] = cookies
    return dict(cookies)


def set_cookie_header(name: str, value: str, *, max_age: int | None, secure: bool, http_only: bool = True,
                      same_site: str = "lax") -> tuple[bytes, bytes]:
    morsel = SimpleCookie()
    morsel[name] = value
    item = morsel[name]
    item["path"] = "/"
    item["samesite"] = same_site
    if max_age is not None:
        item["max-age"] = max_age
    if http_only:
        item["httponly"] = True
    if secure:
        item["secure"] = True
    return b"set-cookie", item.OutputString().encode("latin-1")
