"""Device tokens: shown once, stored hashed, usable as bearer credentials, revocable, throttled, never logged."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from loguru import logger

from tests.conftest import FakeClock, make_client
from tests.support.auth import csrf_token, login


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    lines: list[str] = []
    sink_id = logger.add(lambda m: lines.append(str(m) + repr(m.record["extra"])), level="DEBUG")
    yield lines
    logger.remove(sink_id)


async def _create(client: httpx.AsyncClient, name: str = "glasses", days: str = "") -> str:
    token = await csrf_token(client, "/account/tokens")
    response = await client.post("/account/tokens", data={"csrf_token": token, "name": name,
                                                          "expires_in_days": days})
    assert response.status_code == 200, response.text[:300]
    match = re.search(r'data-testid="new-token">([^<]+)<', response.text)
    assert match
    return match.group(1)


async def test_token_lifecycle(app: Any, client: httpx.AsyncClient, log_lines: list[str]) -> None:
    revoked: list[str] = []
    app.state.session_store.add_revocation_listener(lambda ids: revoked.extend(ids) or None)
    await login(client)
    secret = await _create(client)
    assert secret.startswith("sgv_") and len(secret) > 40

    page = await client.get("/account/tokens")
    assert "glasses" in page.text and secret not in page.text  # shown once, then only its prefix

    async with make_client(app) as device:
        device.cookies.clear()
        me = await device.get("/api/me", headers={"Authorization": f"Bearer {secret}"})
        assert me.status_code == 200 and me.json()["email"] == "betty@123.com"
        row = await app.state.db.fetchone("SELECT token_hash, last_used_at FROM api_tokens")
        assert row["token_hash"] != secret and row["last_used_at"] is not None

        token_id = re.search(r"/account/tokens/(\d+)/revoke", page.text)
        assert token_id
        form_token = await csrf_token(client, "/account/tokens")
        await client.post(f"/account/tokens/{token_id.group(1)}/revoke", data={"csrf_token": form_token})
        assert revoked == [f"token:{token_id.group(1)}"]
        gone = await device.get("/api/me", headers={"Authorization": f"Bearer {secret}"})
        assert gone.status_code == 401
    assert not any(secret in line for line in log_lines)


async def test_an_expired_token_is_refused(app_factory: Any) -> None:
    clock = FakeClock()
    app = await app_factory(clock=clock)
    async with make_client(app) as client:
        await login(client)
        secret = await _create(client, days="30")
        client.cookies.clear()
        assert (await client.get("/api/me", headers={"Authorization": f"Bearer {secret}"})).status_code == 200
        clock.advance(31 * 86400)
        assert (await client.get("/api/me", headers={"Authorization": f"Bearer {secret}"})).status_code == 401


async def test_disabling_the_user_ends_token_access_and_notifies(app: Any, client: httpx.AsyncClient) -> None:
    revoked: list[str] = []
    app.state.session_store.add_revocation_listener(lambda ids: revoked.extend(ids) or None)
    await login(client)
    secret = await _create(client)
    svc = app.state.services
    user = await svc.users.get_by_email("betty@123.com")
    await svc.users.set_disabled(user.id, True)
    await svc.sessions.revoke_user(user.id)
    assert any(handle.startswith("token:") for handle in revoked)
    async with make_client(app) as device:
        assert (await device.get("/api/me", headers={"Authorization": f"Bearer {secret}"})).status_code == 401


async def test_bad_tokens_count_toward_the_ip_throttle(app_factory: Any) -> None:
    app = await app_factory(login_max_failures_per_ip=5)
    async with make_client(app) as device:
        for i in range(5):
            response = await device.get("/api/me", headers={"Authorization": f"Bearer sgv_guess{i}"})
            assert response.status_code == 401
        throttled = await device.get("/api/me", headers={"Authorization": "Bearer sgv_guess9"})
        assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) > 0


@pytest.mark.parametrize(("name", "days"), [("", ""), ("x" * 81, ""), ("ok", "0"), ("ok", "abc"), ("ok", "99999")])
async def test_bad_token_forms_get_a_clear_error(client: httpx.AsyncClient, name: str, days: str) -> None:
    await login(client)
    token = await csrf_token(client, "/account/tokens")
    response = await client.post("/account/tokens", data={"csrf_token": token, "name": name, "expires_in_days": days})
    assert response.status_code == 400 and 'role="alert"' in response.text


async def test_tokens_cannot_manage_tokens(app: Any, client: httpx.AsyncClient) -> None:
    await login(client)
    secret = await _create(client)
    async with make_client(app) as device:
        response = await device.post("/account/tokens", data={"name": "evil"},
                                     headers={"Authorization": f"Bearer {secret}"})
        assert response.status_code == 403
