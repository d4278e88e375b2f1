"""The "known device" cookie: after a successful password sign-in the browser keeps an HMAC of the account's email.
A sign-in for that account from that browser waits in the hasher's priority lane and has a failure throttle of its own,
so a flood from strangers cannot lock a returning user out, neither by filling the hash queue nor by tripping the
account's throttle (the device-cookie defence from OWASP's authentication guidance). The cookie names no one:
it only lets the server recognise the same email when the browser posts it again."""

from __future__ import annotations

import base64
import hashlib
import hmac

COOKIE = "known_device"
MAX_AGE_S = 180 * 24 * 3600
MAX_ACCOUNTS = 3  # a shared browser remembers a few accounts


def _mark(secret: str, email: str) -> str:
    digest = hmac.new(secret.encode(), b"known-device:" + email.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def is_known(secret: str, cookie: str | None, email: str) -> bool:
    if not cookie or not email:
        return False
    mark = _mark(secret, email)
    return any(hmac.compare_digest(mark.encode(), part.encode()) for part in cookie.split(".")[:MAX_ACCOUNTS])


def remember(secret: str, cookie: str | None, email: str) -> str:
    mark = _mark(secret, email)
    others = [part for part in (cookie or "").split(".") if part and part != mark]
    return ".".join([mark, *others][:MAX_ACCOUNTS])


def throttle_key(secret: str, email: str) -> str:
    """The failure-throttle key of the account's returning browsers, apart from the account's own key. Derived from
    the mark, which no form value can spell without the secret, and not the mark itself, which the cluster's shared
    throttle table would otherwise hold."""
    return "device:" + hashlib.sha256(_mark(secret, email).encode()).hexdigest()[:24]
