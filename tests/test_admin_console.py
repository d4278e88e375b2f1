"""The operator's console over HTTP: every action audited, a non-admin refused everywhere, CSRF on every form,
the chart's numbers and the CSV export, on both databases."""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tests.conftest import make_client
from tests.support.auth import DEMO_EMAIL, DEMO_PASSWORD, login, page_token
from tests.test_usage_calls import _reset_postgres
from web.services import Services

ADMIN = ("admin@example.com", "Admin-password-1")
GET_PAGES = ["/admin", "/admin/people", "/admin/people/1", "/admin/calls", "/admin/usage", "/admin/usage.csv",
             "/admin/audit"]
POSTS = ["/admin/people", "/admin/people/1/disable", "/admin/people/1/enable", "/admin/people/1/promote",
         "/admin/people/1/demote", "/admin/people/1/reset-password", "/admin/people/1/end-sessions",
         "/admin/people/1/revoke-token", "/admin/people/1/quota", "/admin/calls/rtc_x/end"]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def console(request: pytest.FixtureRequest,
                  app_factory: Callable[..., Any]) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient, str]]:
    url = ""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        await _reset_postgres(url)
    app: Starlette = await app_factory(database_url=url)
    svc: Services = app.state.services
    await svc.users.create(*ADMIN, role="admin", check_policy=False)
    http = make_client(app)
    await login(http, *ADMIN)
    yield app, http, await page_token(http, "/admin/people")
    await http.aclose()


async def _demo_id(svc: Services) -> int:
    user = await svc.users.get_by_email(DEMO_EMAIL)
    assert user is not None
    return user.id


async def test_every_people_action_works_and_is_audited(console: tuple[Starlette, httpx.AsyncClient, str]) -> None:
    app, http, token = console
    svc: Services = app.state.services
    created = await http.post("/admin/people", data={"email": "new@example.com", "display_name": "New",
                                                     "role": "user", "csrf_token": token})
    assert created.status_code == 200
    password = re.search(r'data-testid="temporary-password">([^<]+)<', created.text)
    assert password
    newcomer = make_client(app)
    assert (await login(newcomer, "new@example.com", password.group(1))).status_code == 303
    # the temporary password must be replaced before anything else
    home = await newcomer.get("/", headers={"Accept": "text/html"})
    assert home.status_code == 303 and home.headers["location"] == "/account?change=1"
    account = await newcomer.get("/account?change=1")
    assert 'data-testid="change-password-first"' in account.text
    blocked = await newcomer.post("/v1/realtime/calls", content=b"v=0", headers={
        "Content-Type": "application/sdp", "X-CSRF-Token": await page_token(newcomer, "/account")})
    assert blocked.status_code == 403 and blocked.json()["error"]["code"] == "password_change_required"
    changed = await newcomer.post("/account/password", data={
        "current_password": password.group(1), "new_password": "my-own-password-9",
        "csrf_token": await page_token(newcomer, "/account")})
    assert changed.status_code == 200, changed.text
    assert (await newcomer.get("/", headers={"Accept": "text/html"})).status_code == 200
    await newcomer.aclose()
    assert "new@example.com" in (await http.get("/admin/people?q=NEW")).text
    assert "new@example.com" not in (await http.get("/admin/people?q=betty")).text

    demo = await _demo_id(svc)
    victim = make_client(app)
    await login(victim, DEMO_EMAIL, DEMO_PASSWORD)
    _secret, device = await svc.tokens.create(demo, "glasses", expires_in_days=None)

    async def act(action: str, **data: str) -> httpx.Response:
        return await http.post(f"/admin/people/{demo}/{action}", data={"csrf_token": token, **data})

    assert (await act("disable")).status_code == 303
    assert (await svc.users.get(demo)).disabled  # type: ignore[union-attr]
    assert (await victim.get("/account")).status_code == 303  # the session was ended
    assert (await act("enable")).status_code == 303
    assert (await act("promote")).status_code == 303
    assert (await svc.users.get(demo)).is_admin  # type: ignore[union-attr]
    assert (await act("demote")).status_code == 303
    reset = await act("reset-password")
    temp = re.search(r'data-testid="temporary-password">([^<]+)<', reset.text)
    assert reset.status_code == 200 and temp
    again = make_client(app)
    assert (await login(again, DEMO_EMAIL, temp.group(1))).status_code == 303
    assert (await act("end-sessions")).status_code == 303
    assert (await again.get("/account")).status_code == 303
    await again.aclose()
    await victim.aclose()
    assert (await act("revoke-token", token_id=str(device.id))).status_code == 303
    assert not await svc.tokens.is_active(device.id)
    assert (await act("quota", minutes_per_day="12.5", tokens_per_month="1000")).status_code == 303
    limits = await svc.usage.quotas.limits_for(demo)
    assert limits.minutes_per_day == 12.5 and limits.tokens_per_month == 1000
    assert (await act("quota", minutes_per_day="-1")).status_code == 400
    page = (await http.get(f"/admin/people/{demo}")).text
    assert 'value="12.5"' in page
    me = await svc.users.get_by_email(ADMIN[0])
    assert me is not None
    refused = await http.post(f"/admin/people/{me.id}/disable", data={"csrf_token": token})
    assert refused.status_code == 400 and not (await svc.users.get(me.id)).disabled  # type: ignore[union-attr]
    log = (await http.get("/admin/audit")).text
    for action in ("user.create", "user.disable", "user.enable", "user.promote", "user.demote",
                   "user.reset_password", "user.end_sessions", "user.revoke_token", "user.quota"):
        assert action in log, action
    assert log.count(ADMIN[0]) >= 9


async def test_a_non_admin_is_refused_everywhere(console: tuple[Starlette, httpx.AsyncClient, str]) -> None:
    app, _http, _token = console
    user = make_client(app)
    await login(user)
    token = await page_token(user)
    for path in GET_PAGES:
        assert (await user.get(path)).status_code == 403, path
    for path in POSTS:
        assert (await user.post(path, data={"csrf_token": token, "token_id": "1"})).status_code == 403, path
    anonymous = make_client(app)
    for path in GET_PAGES:
        assert (await anonymous.get(path)).status_code == 303, path
    await user.aclose()
    await anonymous.aclose()


async def test_every_form_needs_the_csrf_token(console: tuple[Starlette, httpx.AsyncClient, str]) -> None:
    app, http, _token = console
    svc: Services = app.state.services
    for path in POSTS:
        response = await http.post(path, data={"email": "x@example.com", "token_id": "1"})
        assert response.status_code == 403, path
    assert not (await svc.users.get(1)).disabled  # type: ignore[union-attr]
    assert await svc.users.get_by_email("x@example.com") is None


async def test_the_chart_and_csv_carry_the_recorded_numbers(console: tuple[Starlette, httpx.AsyncClient, str]) -> None:
    app, http, _token = console
    svc: Services = app.state.services
    demo = await _demo_id(svc)
    now = time.time()
    today = now - now % 86_400
    rows = [(today + 3600, 600.0, 0.25), (today + 7200, 300.0, 0.05), (today - 2 * 86_400 + 60, 120.0, 1.5)]
    for index, (start, seconds, cost) in enumerate(rows):
        await svc.db.execute(
            "INSERT INTO conversations (call_id, user_id, transport, upstream, started_at, ended_at, total_tokens, "
            "cost_usd, end_reason) VALUES (?, ?, 'webrtc', 'azure:gpt-realtime', ?, ?, 100, ?, ?)",
            (f"rtc_{index}", demo, start, start + seconds, cost, "=cmd()" if index == 0 else "hangup"))
    page = (await http.get("/admin/usage")).text
    bars = re.findall(r'data-day="([\d-]+)" data-minutes="([\d.]+)" data-cost="([\d.]+)"', page)
    assert len(bars) == 30
    assert bars[-1][1:] == ("15.00", "0.3000")
    assert bars[-3][1:] == ("2.00", "1.5000")
    assert all(b[1] == "0.00" for b in bars[:-3])
    assert DEMO_EMAIL in page and "17.0" in page
    per_user = (await http.get(f"/admin/usage?user={demo}")).text
    assert re.findall(r'data-minutes="([\d.]+)"', per_user)[-1] == "15.00"
    exported = await http.get("/admin/usage.csv?days=30")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    records = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["call_id"] for r in records] == ["rtc_2", "rtc_0", "rtc_1"]
    assert records[1]["email"] == DEMO_EMAIL and float(records[1]["cost_usd"]) == 0.25
    assert records[1]["end_reason"] == "'=cmd()"  # no spreadsheet formula
    assert "usage.export" in (await http.get("/admin/audit")).text


async def test_the_account_page_shows_use_against_the_quota(app_factory: Callable[..., Any]) -> None:
    app: Starlette = await app_factory(quota_minutes_per_day=30.0, quota_tokens_per_month=5000)
    svc: Services = app.state.services
    http = make_client(app)
    await login(http)
    demo = await _demo_id(svc)
    now = time.time()
    await svc.db.execute(
        "INSERT INTO conversations (call_id, user_id, transport, upstream, started_at, ended_at, total_tokens) "
        "VALUES ('c', ?, 'websocket', 'echo', ?, ?, 1234)", (demo, now - 400, now - 100))
    assert 'hx-get="/account/usage"' in (await http.get("/account")).text
    panel = (await http.get("/account/usage", headers={"HX-Request": "true"})).text
    assert re.search(r'data-testid="usage-day">.*?5\.0 / 30\.0', panel, re.S)
    assert re.search(r'data-testid="usage-month">.*?1234 / 5000', panel, re.S)
    await http.aclose()


async def test_an_admin_sees_a_live_call_and_ends_it_with_the_reason(app_factory: Callable[..., Any]) -> None:
    from tests.media_fixtures.helpers import sign_in
    from tests.media_fixtures.rtc_client import RtcClient, tone_bursts

    app: Starlette = await app_factory()
    svc: Services = app.state.services
    await svc.users.create(*ADMIN, role="admin", check_policy=False)
    admin = make_client(app)
    await login(admin, *ADMIN)
    token = await page_token(admin, "/admin/calls")
    assert 'data-testid="no-calls"' in (await admin.get("/admin/calls")).text
    http, user_token = await sign_in(app)
    client = RtcClient(tone_bursts([(0.3, 0.0), (1.0, 0.3), (2.0, 0.0)]), loop_voice=True)
    try:
        assert (await client.call(http, user_token)).status_code == 201
        await client.wait_connected()
        await client.wait_event("session.created")  # the data channel is open: the notice can reach the user
        page = (await admin.get("/admin/calls")).text
        call_id = re.search(r'data-call-id="([^"]+)"', page)
        assert call_id and DEMO_EMAIL in page and "webrtc" in page
        ended = await admin.post(f"/admin/calls/{call_id.group(1)}/end", data={"csrf_token": token})
        assert ended.status_code == 303
        note = await client.wait_event("error", timeout=5, match=lambda e: e["error"]["code"] == "admin_ended")
        assert "管理员" in note["error"]["message"] and "An administrator ended this call." in note["error"]["message"]
        await client.wait_ended(timeout=10)
    finally:
        await client.close()
        await http.aclose()
    assert "call.end" in (await admin.get("/admin/audit")).text
    await svc.usage.flush()
    row = await svc.db.fetchone("SELECT transport, upstream, end_reason, total_tokens FROM conversations")
    assert row == {"transport": "webrtc", "upstream": "echo", "end_reason": "admin_ended", "total_tokens": 0}
    await admin.aclose()
