"""Property-based: whatever a client sends to a route that parses input (JSON, forms, multipart, SDP, query strings,
path parameters, headers), the answer is never a 5xx. Includes the shapes that once crashed (deep nesting, oversized
metadata, non-Latin-1 redirect targets). The app runs under its lifespan on its own event loop in a thread, so
hypothesis drives it from an ordinary test function."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest
from asgi_lifespan import LifespanManager
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conftest import BASE_URL, make_settings
from tests.support.auth import DEMO_EMAIL, DEMO_PASSWORD
from web.app import create_app
from web.diagnostics.catalog import CHECKS

_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
FUZZ = settings(max_examples=40, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


class AppThread:
    """The real app on a private loop; `call` runs one coroutine there and waits (bounded) for its result."""

    def __init__(self, tmp: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fuzz-app", daemon=True)
        self.thread.start()
        self.app = create_app(make_settings(tmp, login_max_failures_per_ip=100_000,
                                                  login_max_failures_per_account=100_000))
        self.manager: LifespanManager = self.call(self._start())
        self.anon = self.call(self._client())
        self.user = self.call(self._client())
        self.call(self._sign_in(self.user))
        self.anon_token = self.call(self._token(self.anon, "/diagnostics"))
        self.user_token = self.call(self._token(self.user, "/"))
        report = self.call(self.anon.post("/diagnostics/reports", headers={"X-CSRF-Token": self.anon_token}))
        self.report_id = str(report.json()["id"])

    def call(self, coro: Coroutine[Any, Any, Any], timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self) -> LifespanManager:
        manager = LifespanManager(self.app, startup_timeout=30, shutdown_timeout=30)  # detects the loop: build it there
        await manager.__aenter__()
        return manager

    async def _client(self) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
        return httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers={"Origin": BASE_URL}, timeout=20)

    @staticmethod
    async def _token(client: httpx.AsyncClient, path: str) -> str:
        match = _META.search((await client.get(path)).text)
        assert match
        return match.group(1)

    async def _sign_in(self, client: httpx.AsyncClient) -> None:
        token = await self._token(client, "/login")
        response = await client.post("/login", data={"email": DEMO_EMAIL, "password": DEMO_PASSWORD,
                                                     "csrf_token": token})
        assert response.status_code == 303

    async def sign_in_fresh(self, next_path: str, headers: dict[str, str]) -> httpx.Response:
        """A real sign-in (so the redirect to `next` is built), on a client of its own."""
        async with await self._client() as client:
            token = await self._token(client, "/login")
            return await client.post("/login", headers=headers, data={
                "email": DEMO_EMAIL, "password": DEMO_PASSWORD, "csrf_token": token, "next": next_path})

    def close(self) -> None:
        self.call(self.anon.aclose())
        self.call(self.user.aclose())
        self.call(self.manager.__aexit__(None, None, None))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppThread]:
    app = AppThread(tmp_path_factory.mktemp("fuzz"))
    yield app
    app.close()


def _nested(depth: int, opener: str) -> str:
    return ('{"a":' * depth + "1" + "}" * depth) if opener == "{" else ("[" * depth + "]" * depth)


scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=400)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=6)
                           | st.dictionaries(st.text(max_size=20), inner, max_size=6), max_leaves=40)
deep_json = st.builds(_nested, st.integers(1, 6000), st.sampled_from("[{"))
json_text = st.one_of(json_values.map(json.dumps), deep_json, st.text(max_size=300),
                      st.builds(lambda v: json.dumps({"values": v, "report_id": "x"}), json_values))
body_bytes = st.one_of(json_text.map(str.encode), st.binary(max_size=2000))
content_types = st.sampled_from(["application/json", "application/x-www-form-urlencoded", "multipart/form-data",
                                 "multipart/form-data; boundary=xyz", "application/sdp", "text/plain", "", ";;=x/"])
paths_text = st.text(min_size=0, max_size=60)
segments = st.text(min_size=1, max_size=40).map(lambda s: quote(s, safe=""))  # any text, as one path segment
check_ids = st.sampled_from([c.id for c in CHECKS]) | segments


def _ok(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.request.method, str(response.request.url), response.status_code,
                                        response.text[:300])


@FUZZ
@example(check="server_health", body=_nested(5000, "[").encode(), content_type="application/json", as_form=False,
         payload="{}")
@example(check="rtt", body=b"", content_type="", as_form=True, payload=_nested(5000, "{"))
@given(check=check_ids, body=body_bytes, content_type=content_types, as_form=st.booleans(), payload=json_text)
def test_diagnostics_checks_never_fail(running: AppThread, check: str, body: bytes, content_type: str,
                                       as_form: bool, payload: str) -> None:
    headers = {"X-CSRF-Token": running.anon_token, "Accept": "application/json"}
    if as_form:
        request = running.anon.post(f"/diagnostics/checks/{check}", headers=headers,
                                    data={"report_id": running.report_id, "payload": payload})
    else:
        request = running.anon.post(f"/diagnostics/checks/{check}", content=body,
                                    headers={**headers, "Content-Type": content_type})
    _ok(running.call(request))


_BIG = {f"k{i}": "x" * 300 for i in range(40)}


@FUZZ
@example(payload=json.dumps({"mic": _BIG, "candidates": _BIG, "candidate_pair": _BIG}), report="")
@given(payload=st.one_of(json_text, st.builds(lambda v: json.dumps({"mic": v, "candidates": v, "candidate_pair": v}),
                                              json_values)),
       report=st.one_of(st.just(""), segments))
def test_diagnostics_finish_and_report_pages_never_fail(running: AppThread, payload: str, report: str) -> None:
    report_id = report or running.report_id
    headers = {"X-CSRF-Token": running.anon_token}
    _ok(running.call(running.anon.post(f"/diagnostics/reports/{report_id}/finish", headers=headers,
                                       data={"payload": payload})))
    for suffix in ("", ".json", ".txt"):
        _ok(running.call(running.anon.get(f"/diagnostics/reports/{report_id}{suffix}")))
    _ok(running.call(running.user.get("/support/reports", params={"id": unquote(report)})))


@FUZZ
@example(next_path="/\u3002evil", email="", password="", htmx=True, extra={})
@given(next_path=st.one_of(paths_text, paths_text.map(lambda s: "/" + s)), email=st.text(max_size=80),
       password=st.text(max_size=80), htmx=st.booleans(), extra=st.dictionaries(st.text(max_size=10),
                                                                                 st.text(max_size=50), max_size=3))
def test_sign_in_and_account_forms_never_fail(running: AppThread, next_path: str, email: str, password: str,
                                              htmx: bool, extra: dict[str, str]) -> None:
    headers = {"HX-Request": "true"} if htmx else {}
    _ok(running.call(running.anon.get("/login", params={"next": next_path}, headers=headers)))
    form = {**extra, "email": email, "password": password, "next": next_path, "csrf_token": running.anon_token}
    _ok(running.call(running.anon.post("/login", data=form, headers=headers)))
    _ok(running.call(running.sign_in_fresh(next_path, headers)))
    user_headers = {**headers, "X-CSRF-Token": running.user_token}
    # a wrong current password never changes the demo account's password, so the signed-in client stays valid
    _ok(running.call(running.user.post("/account/password", headers=user_headers, data={
        **extra, "current_password": "not-" + password, "new_password": password})))
    _ok(running.call(running.user.post("/account/tokens", headers=user_headers,
                                       data={**extra, "name": email, "expires_in_days": password})))
    _ok(running.call(running.user.post("/lang", headers=user_headers, data={**extra, "locale": email,
                                                                            "next": next_path})))


@FUZZ
@example(body=b"", content_type="application/sdp", session=_nested(5000, "["), sdp="", call_id="x")
@given(body=body_bytes, content_type=content_types, session=json_text, sdp=st.text(max_size=500),
       call_id=segments)
def test_call_endpoint_never_fails(running: AppThread, body: bytes, content_type: str, session: str, sdp: str,
                                   call_id: str) -> None:
    headers = {"X-CSRF-Token": running.user_token}
    _ok(running.call(running.user.post("/v1/realtime/calls", content=body,
                                       headers={**headers, "Content-Type": content_type})))
    _ok(running.call(running.user.post("/v1/realtime/calls", headers=headers,
                                       files={"sdp": (None, "v=0\r\n" + sdp), "session": (None, session)})))
    _ok(running.call(running.user.delete(f"/v1/realtime/calls/{call_id}", headers=headers)))
