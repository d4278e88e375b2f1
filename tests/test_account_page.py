"""The account page: password change for password accounts, a plain explanation for single-sign-on accounts."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import make_client
from tests.support.auth import csrf_token, login
from web.auth.sessions import cookie_name


async def test_password_accounts_see_the_password_form(client: httpx.AsyncClient) -> None:
    await login(client)
    page = await client.get("/account")
    assert page.status_code == 200 and 'data-testid="password-form"' in page.text


async def test_single_sign_on_accounts_are_told_where_to_change_their_password(app: Any) -> None:
    svc = app.state.services
    user = await svc.users.create("sso@example.com", "random-unknown-password", check_policy=False)
    await svc.users.mark_sso_only(user.id)
    raw_id, _session_id = await svc.sessions.create(user.id, ip="127.0.0.1", user_agent="test")
    async with make_client(app, cookies={cookie_name(app.state.settings): svc.sessions.sign(raw_id)}) as client:
        page = await client.get("/account")
        assert 'data-testid="sso-only"' in page.text and 'data-testid="password-form"' not in page.text
        assert "单点登录" in page.text
        token = await csrf_token(client, "/account")
        refused = await client.post("/account/password", data={
            "csrf_token": token, "current_password": "x", "new_password": "a-new-good-password"})
        assert refused.status_code == 400
    # an operator who sets a password (python -m web users set-password) gives the account a password sign-in
    await svc.users.set_password(user.id, "an-operator-set-password")
    assert await svc.users.has_password_login(user.id)
