"""Sign-in: the form, the generic failure, throttling, rehashing and the post-login redirect."""

from __future__ import annotations

import statistics
import time
from typing import Any

import httpx
import pytest

from tests.support.auth import DEMO_EMAIL, DEMO_PASSWORD, csrf_token, login
from web.routes.auth import safe_next


async def test_it_shows_the_login_form_in_chinese_by_default(client: httpx.AsyncClient) -> None:
    response = await client.get("/login")
    assert response.status_code == 200
    assert 'lang="zh-CN"' in response.text
    assert "登录" in response.text and 'name="csrf_token"' in response.text


async def test_it_signs_in_the_demo_account_and_shows_the_home_page(client: httpx.AsyncClient) -> None:
    response = await login(client)
    assert response.status_code == 303 and response.headers["location"] == "/"
    home = await client.get("/")
    assert home.status_code == 200
    assert "已登录" in home.text and "Betty" in home.text


async def test_htmx_login_answers_with_hx_redirect(client: httpx.AsyncClient) -> None:
    token = await csrf_token(client)
    response = await client.post("/login", data={"email": DEMO_EMAIL, "password": DEMO_PASSWORD, "csrf_token": token,
                                                 "next": "/account"}, headers={"HX-Request": "true"})
    assert response.status_code == 200 and response.headers["HX-Redirect"] == "/account"


async def _attempt(client: httpx.AsyncClient, email: str, password: str) -> tuple[httpx.Response, float]:
    token = await csrf_token(client)
    started = time.perf_counter()
    response = await client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    return response, time.perf_counter() - started


def _error_text(response: httpx.Response) -> str:
    start = response.text.index('data-testid="login-error"')
    return response.text[start:response.text.index("</p>", start)]


async def test_unknown_user_wrong_password_and_disabled_account_look_the_same(app: Any,
                                                                               client: httpx.AsyncClient) -> None:
    svc = app.state.services
    user = await svc.users.create("off@example.com", "correct-horse-battery")
    await svc.users.set_disabled(user.id, True)
    cases = {"unknown": ("nobody@example.com", "whatever-password"), "wrong": (DEMO_EMAIL, "wrong-password!"),
             "disabled": ("off@example.com", "correct-horse-battery")}
    timings: dict[str, list[float]] = {k: [] for k in cases}
    bodies: dict[str, str] = {}
    for _ in range(5):
        for name, (email, password) in cases.items():
            response, elapsed = await _attempt(client, email, password)
            assert response.status_code == 401
            bodies[name] = _error_text(response)
            timings[name].append(elapsed)
        svc.throttle = type(svc.throttle)(per_account=100, per_ip=100, window_s=60)
    assert len(set(bodies.values())) == 1 and "邮箱或密码错误" in bodies["wrong"]
    medians = [statistics.median(v) for v in timings.values()]
    assert max(medians) / min(medians) < 3, timings  # an unknown account answers after as long as a real check


async def test_repeated_failures_for_one_account_are_throttled_with_a_retry_time(app: Any,
                                                                                 client: httpx.AsyncClient) -> None:
    limit = app.state.settings.login_max_failures_per_account
    for _ in range(limit):
        response, _elapsed = await _attempt(client, DEMO_EMAIL, "wrong-password!")
        assert response.status_code == 401
    response, _elapsed = await _attempt(client, DEMO_EMAIL, DEMO_PASSWORD)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "秒后重试" in response.text
    assert app.state.services.counters["login_failures_total"] == limit


async def test_a_throttled_account_does_not_lock_out_other_users(app: Any, client: httpx.AsyncClient) -> None:
    await app.state.services.users.create("other@example.com", "another-good-pass")
    for _ in range(app.state.settings.login_max_failures_per_account):
        await _attempt(client, DEMO_EMAIL, "wrong-password!")
    response, _elapsed = await _attempt(client, "other@example.com", "another-good-pass")
    assert response.status_code == 303


async def test_per_ip_throttle_counts_failures_across_accounts(app_factory: Any) -> None:
    app = await app_factory(login_max_failures_per_ip=3)
    from tests.conftest import make_client

    async with make_client(app) as client:
        for i in range(3):
            response, _elapsed = await _attempt(client, f"u{i}@example.com", "wrong-password!")
            assert response.status_code == 401
        response, _elapsed = await _attempt(client, "u9@example.com", "wrong-password!")
        assert response.status_code == 429


async def test_a_weak_stored_hash_is_upgraded_after_a_successful_login(app: Any, client: httpx.AsyncClient) -> None:
    from argon2 import PasswordHasher

    svc = app.state.services
    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(DEMO_PASSWORD)
    await svc.db.execute("UPDATE users SET password_hash = ? WHERE email = ?", (weak, DEMO_EMAIL))
    assert (await login(client)).status_code == 303
    row = await svc.db.fetchone("SELECT password_hash FROM users WHERE email = ?", (DEMO_EMAIL,))
    assert row and row["password_hash"] != weak and "m=8192,t=1,p=1" in row["password_hash"]


async def test_default_hash_parameters_are_argon2id_rfc9106_low_memory() -> None:
    from web.accounts.passwords import PasswordService
    from web.settings import Settings

    s = Settings()
    service = PasswordService(time_cost=s.password_hash_time_cost, memory_kib=s.password_hash_memory_kib,
                              parallelism=s.password_hash_parallelism, concurrency=1)
    try:
        assert (await service.hash("x" * 12)).startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    finally:
        service.close()


async def test_a_long_password_round_trips_and_one_changed_character_fails(app: Any, client: httpx.AsyncClient) -> None:
    long_password = "correct horse " * 7 + "battery staple"  # ~112 characters
    await app.state.services.users.create("long@example.com", long_password)
    assert (await _attempt(client, "long@example.com", long_password[:89] + "X" + long_password[90:]))[0].status_code \
        == 401
    assert (await _attempt(client, "long@example.com", long_password))[0].status_code == 303


async def test_malformed_form_gets_a_clear_400(client: httpx.AsyncClient) -> None:
    token = await csrf_token(client)
    fields = {f"f{i}": "x" for i in range(50)} | {"csrf_token": token}
    response = await client.post("/login", data=fields)
    assert response.status_code in (400, 403)


@pytest.mark.parametrize(("value", "expected"), [
    ("/account", "/account"), ("/?a=1", "/?a=1"), ("//evil.example", "/"), ("/\\evil.example", "/"),
    ("https://evil.example", "/"), ("javascript:alert(1)", "/"), ("", "/"), (None, "/"), ("/x\r\nSet-Cookie:a", "/"),
])
def test_next_must_be_a_local_path(value: str | None, expected: str) -> None:
    assert safe_next(value) == expected


async def test_already_signed_in_users_skip_the_form(client: httpx.AsyncClient) -> None:
    await login(client)
    response = await client.get("/login?next=/account")
    assert response.status_code == 303 and response.headers["location"] == "/account"


async def test_a_flood_aimed_at_an_account_does_not_lock_out_its_returning_browsers(app: Any) -> None:
    """OWASP's device cookies: strangers' failures throttle the account for strangers; a browser that signed in to
    the account before has its own count, so it still gets in (and a stranger with the right password does not)."""
    from tests.conftest import make_client

    async with make_client(app) as returning:
        assert (await login(returning)).status_code == 303
        known = returning.cookies.get("known_device")
    assert known
    async with make_client(app) as stranger:
        for _ in range(app.state.settings.login_max_failures_per_account):
            response, _elapsed = await _attempt(stranger, DEMO_EMAIL, "wrong-password!")
            assert response.status_code == 401
        response, _elapsed = await _attempt(stranger, DEMO_EMAIL, DEMO_PASSWORD)
        assert response.status_code == 429
    async with make_client(app, cookies={"known_device": known}) as browser:
        response, _elapsed = await _attempt(browser, DEMO_EMAIL, DEMO_PASSWORD)
        assert response.status_code == 303
    async with make_client(app, cookies={"known_device": known}) as browser:
        for _ in range(app.state.settings.login_max_failures_per_account):  # its own count trips on its own
            response, _elapsed = await _attempt(browser, DEMO_EMAIL, "wrong-password!")
            assert response.status_code == 401
        response, _elapsed = await _attempt(browser, DEMO_EMAIL, DEMO_PASSWORD)
        assert response.status_code == 429


async def test_the_account_remembers_the_networks_it_signed_in_from_a_bounded_while(app_factory: Any) -> None:
    now = [1_000_000.0]
    app = await app_factory(clock=lambda: now[0])
    users = app.state.services.users
    user = await users.get_by_email(DEMO_EMAIL)
    assert user is not None
    from web.accounts.users import KNOWN_NETWORK_MAX_AGE_S, KNOWN_NETWORKS_PER_USER

    await users.record_login(user.id, "203.0.113.0/24")
    assert await users.signed_in_from(DEMO_EMAIL.upper(), "203.0.113.0/24")
    assert not await users.signed_in_from(DEMO_EMAIL, "198.51.100.0/24")
    assert not await users.signed_in_from("nobody@example.com", "203.0.113.0/24")
    for i in range(KNOWN_NETWORKS_PER_USER):
        now[0] += 1
        await users.record_login(user.id, f"10.0.{i}.0/24")
    assert not await users.signed_in_from(DEMO_EMAIL, "203.0.113.0/24")  # the oldest gave way
    assert await users.signed_in_from(DEMO_EMAIL, "10.0.0.0/24")
    now[0] += KNOWN_NETWORK_MAX_AGE_S + 10
    assert not await users.signed_in_from(DEMO_EMAIL, f"10.0.{KNOWN_NETWORKS_PER_USER - 1}.0/24")
