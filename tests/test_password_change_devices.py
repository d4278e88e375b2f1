"""A password change revokes the user's device tokens and ends their live calls, unless the user ticks "keep my
devices signed in"; the account page says which happens."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import make_client
from tests.support.auth import DEMO_PASSWORD, csrf_token, login
from tests.test_tokens import _create

NEW_PASSWORD = "New-Passw0rd-for-Betty"


async def _change(client: httpx.AsyncClient, **extra: str) -> httpx.Response:
    token = await csrf_token(client, "/account")
    return await client.post("/account/password", data={"csrf_token": token, "current_password": DEMO_PASSWORD,
                                                        "new_password": NEW_PASSWORD, **extra})


async def test_a_password_change_revokes_device_tokens_and_ends_their_calls(app: Any,
                                                                           client: httpx.AsyncClient) -> None:
    notified: list[str] = []
    app.state.session_store.add_revocation_listener(lambda ids: notified.extend(ids) or None)  # calls end from this
    await login(client)
    page = await client.get("/account")
    assert "撤销您的设备令牌" in page.text and 'data-testid="keep-devices"' in page.text
    secret = await _create(client)
    async with make_client(app) as device:
        bearer = {"Authorization": f"Bearer {secret}"}
        assert (await device.get("/api/me", headers=bearer)).status_code == 200
        response = await _change(client)
        assert response.status_code == 200 and "1 个设备令牌已被撤销" in response.text, response.text[:500]
        assert (await device.get("/api/me", headers=bearer)).status_code == 401
    assert any(handle.startswith("token:") for handle in notified)
    assert (await client.get("/account")).status_code == 200  # this session stays signed in


async def test_the_user_may_keep_their_devices_signed_in(app: Any, client: httpx.AsyncClient) -> None:
    notified: list[str] = []
    app.state.session_store.add_revocation_listener(lambda ids: notified.extend(ids) or None)
    await login(client)
    secret = await _create(client)
    response = await _change(client, keep_devices="1")
    assert response.status_code == 200 and "设备令牌仍然有效" in response.text
    async with make_client(app) as device:
        assert (await device.get("/api/me", headers={"Authorization": f"Bearer {secret}"})).status_code == 200
    assert not any(handle.startswith("token:") for handle in notified)  # their calls go on
