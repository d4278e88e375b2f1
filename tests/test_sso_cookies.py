"""The pending sign-in cookies: bounded in number and size however many sign-ins are abandoned, scoped to
/auth/sso/, HttpOnly, SameSite=Lax, Secure with a __Secure- name in production, signed with SHA-256, single use,
expiring, and holding no token or personal data."""

# ruff: noqa: F811  (the provider fixtures are imported by name, and tests take them as arguments)

from __future__ import annotations

import base64
import json
import zlib
from http.cookies import SimpleCookie
from typing import Any

import pytest

from tests.conftest import make_client
from tests.oidc_provider.fixtures import (  # noqa: F401  (fixtures)
    authorize,
    flow_cookies,
    oidc_provider,
    oidc_provider_session,
    sso_overrides,
    start_login,
)
from tests.oidc_provider.provider import OIDCProvider
from web.auth.oidc.flow import FLOW_COOKIE_PATH, MAX_PENDING_FLOWS, FlowCookies, PendingFlow

SECRET = "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"


async def test_twenty_abandoned_sign_ins_keep_the_cookies_small(app_factory: Any, oidc_provider: OIDCProvider) -> None:
    app = await app_factory(**sso_overrides(oidc_provider.issuer))
    async with make_client(app) as client:
        starts = [await start_login(client, next_url=f"/account?attempt={i}") for i in range(20)]
        cookie_header = "; ".join(f"{c.name}={c.value}" for c in client.cookies.jar if c.path.startswith("/auth"))
        all_cookies = "; ".join(f"{c.name}={c.value}" for c in client.cookies.jar)
        assert len(flow_cookies(client)) == MAX_PENDING_FLOWS
        assert len(all_cookies.encode()) < 4096 and len(cookie_header.encode()) < 4096
        # the newest sign-in still completes; the oldest is forgotten
        oldest = await authorize(starts[0].headers["location"])
        newest = await authorize(starts[-1].headers["location"])
        assert (await client.get(oldest.headers["location"])).status_code == 400
        done = await client.get(newest.headers["location"])
        assert done.status_code == 303 and done.headers["location"] == "/account?attempt=19"


async def test_the_flow_cookie_attributes_and_contents(app_factory: Any, oidc_provider: OIDCProvider) -> None:
    app = await app_factory(**sso_overrides(oidc_provider.issuer))
    async with make_client(app) as client:
        started = await start_login(client)
    (header,) = [h for h in started.headers.get_list("set-cookie") if h.startswith("sso-flow-")]
    jar: SimpleCookie = SimpleCookie()
    jar.load(header)
    (morsel,) = jar.values()
    assert morsel["path"] == FLOW_COOKIE_PATH and morsel["httponly"] and morsel["samesite"].lower() == "lax"
    assert morsel["max-age"] == "600" and not morsel["secure"]
    payload, _timestamp, signature = morsel.value.rsplit(".", 2)
    assert len(signature) == 43, "HMAC-SHA256, not itsdangerous' SHA-1 default"
    compressed = payload.startswith(".")  # itsdangerous deflates the payload when that makes it shorter
    raw = base64.urlsafe_b64decode(payload.lstrip(".") + "=" * (-len(payload.lstrip(".")) % 4))
    data = json.loads(zlib.decompress(raw) if compressed else raw)
    assert set(data) == {"p", "s", "n", "v", "x", "t"}  # provider, state, nonce, PKCE verifier, next, start time
    assert "alice" not in morsel.value.lower()


def test_production_flow_cookies_are_secure_and_prefixed() -> None:
    cookies = FlowCookies(SECRET, secure=True, ttl_s=600)
    (header,) = cookies.start(PendingFlow.new("entra", "/"), {})
    text = header[1].decode()
    assert text.startswith("__Secure-sso-flow-") and "Secure" in text and "Path=/auth/sso/" in text


def test_a_flow_is_taken_once_and_only_by_its_state() -> None:
    cookies = FlowCookies(SECRET, secure=False, ttl_s=600)
    flow = PendingFlow.new("entra", "/account")
    (header,) = cookies.start(flow, {})
    name, value = header[1].decode().split(";")[0].split("=", 1)
    assert cookies.take("some-other-state", {name: value}) == (None, [])
    taken, deletion = cookies.take(flow.state, {name: value})
    assert taken == flow and b"Max-Age=0" in deletion[0][1]
    other_key = FlowCookies(SECRET[::-1], secure=False, ttl_s=600)
    assert other_key.take(flow.state, {name: value})[0] is None, "signed with our key only"


def test_an_expired_flow_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import itsdangerous.timed

    cookies = FlowCookies(SECRET, secure=False, ttl_s=600)
    flow = PendingFlow.new("entra", "/")
    (header,) = cookies.start(flow, {})
    name, value = header[1].decode().split(";")[0].split("=", 1)
    now = itsdangerous.timed.time.time()
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: now + 601)
    assert cookies.take(flow.state, {name: value})[0] is None


def test_starting_prunes_invalid_and_surplus_flows() -> None:
    cookies = FlowCookies(SECRET, secure=False, ttl_s=600)
    jar: dict[str, str] = {"sso-flow-deadbeefdeadbeef": "garbage", "sid": "unrelated", "sso-logout": "kept"}
    for _ in range(MAX_PENDING_FLOWS + 3):
        for key, value in (h[1].decode().split(";")[0].split("=", 1) for h in cookies.start(
                PendingFlow.new("entra", "/"), jar)):
            if value not in ("", '""'):
                jar[key] = value
            else:
                jar.pop(key, None)
    assert "sso-flow-deadbeefdeadbeef" not in jar and jar["sid"] == "unrelated" and jar["sso-logout"] == "kept"
    assert len([k for k in jar if k.startswith("sso-flow-")]) == MAX_PENDING_FLOWS


def test_an_overlong_next_path_is_not_stored() -> None:
    assert PendingFlow.new("entra", "/" + "a" * 600).next_url == "/"
