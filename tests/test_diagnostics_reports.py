"""The checklist's routes and reports over ASGI: the page and its old addresses, verdict fragments, saved reports with
short IDs, who may read them, the exports, and the support lookup with logs and upstream errors."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tests.conftest import make_client
from tests.support.auth import csrf_token, login
from web.diagnostics import access, support
from web.diagnostics.catalog import PAGE_CHECKS
from web.diagnostics.report_id import ALPHABET, display_id, new_report_id, normalize_report_id
from web.diagnostics.text import Text

ADMIN_EMAIL, ADMIN_PASSWORD = "admin@example.com", "Admin-Passw0rd!x"


async def token(client: httpx.AsyncClient) -> str:
    return await csrf_token(client, "/diagnostics")


async def new_report(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.post("/diagnostics/reports", headers={"X-CSRF-Token": await token(client)})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def post_check(client: httpx.AsyncClient, check: str, values: dict[str, Any], report_id: str = "",
                     *, as_json: bool = False) -> httpx.Response:
    headers = {"X-CSRF-Token": await token(client)}
    if as_json:
        headers["Accept"] = "application/json"
    return await client.post(f"/diagnostics/checks/{check}", headers=headers,
                             data={"report_id": report_id, "payload": json.dumps(values)})


def test_report_ids_are_short_readable_and_forgiving() -> None:
    ids = {new_report_id() for _ in range(200)}
    assert len(ids) == 200 and all(len(i) == 8 and set(i) <= set(ALPHABET) for i in ids)
    assert not set("ILOU") & set(ALPHABET)
    assert display_id("7KQ2M9XD") == "7KQ2-M9XD"
    assert normalize_report_id(" 7kq2-m9xd ") == "7KQ2M9XD"
    assert normalize_report_id("0I1L-OOOO") == "01110000"  # O, I and L are read as the digits they look like
    assert normalize_report_id("7KQ2-M9X") is None and normalize_report_id("7KQ2-M9XU") is None


def test_owner_cookie_is_signed_and_bounded() -> None:
    cookie = ""
    for n in range(12):
        cookie = access.cookie_with("secret", cookie, f"0000000{n % 10}" if n < 10 else f"AAAAAAA{n - 10}")
    owned = access.owned_ids("secret", cookie)
    assert len(owned) == access.MAX_OWNED and owned[-1] == "AAAAAAA1"
    assert access.owned_ids("other-secret", cookie) == []
    assert access.owned_ids("secret", cookie.replace("AAAAAAA1", "AAAAAAA2")) == []  # tampered


def test_create_limiter_counts_per_client_and_window() -> None:
    now = [0.0]
    limiter = access.CreateLimiter(limit=2, window_s=10, clock=lambda: now[0])
    assert limiter.allow("a") and limiter.allow("a") and not limiter.allow("a") and limiter.allow("b")
    now[0] = 10.5
    assert limiter.allow("a")


def test_text_falls_back_to_english_when_a_translation_is_broken() -> None:
    assert Text("{n} input(s)", {"n": 2}).render("zh-CN") == "2 个输入设备"
    assert Text("{missing} and {n}", {"n": 1}).render("en") == "{missing} and 1"  # an old stored report
    assert Text("{0} broken", {"n": 1}).render("en") == "{0} broken"
    assert Text("not measured").render("en") == "not measured"


async def test_page_is_open_to_anyone_and_the_old_addresses_redirect(client: httpx.AsyncClient) -> None:
    page = await client.get("/diagnostics")
    assert page.status_code == 200
    for spec in PAGE_CHECKS:
        assert f'id="diag-{spec.id}"' in page.text
    assert "全部检测" in page.text and 'data-testid="diag-login-notice"' in page.text
    assert 'data-signed-in="false"' in page.text
    for old in ("/test-realtime.html", "/test-connection-fixed.html"):
        response = await client.get(old)
        assert response.status_code == 301 and response.headers["location"] == "/diagnostics"
    english = await client.get("/diagnostics", headers={"Accept-Language": "en"})
    assert "Run all checks" in english.text and "Microphone permission" in english.text


async def test_a_posted_measurement_comes_back_as_the_rendered_row(client: httpx.AsyncClient) -> None:
    response = await post_check(client, "server_health", {"status": 200, "latency_ms": 1500})
    assert response.status_code == 200
    assert 'data-status="warn"' in response.text and "1500 毫秒" in response.text
    as_json = await post_check(client, "server_health", {"status": 0, "error": "boom"}, as_json=True)
    body = as_json.json()
    assert body["status"] == "fail" and body["check"] == "server_health" and body["fix_texts"]
    garbled = await client.post("/diagnostics/checks/secure_context", content=b"{not json",
                                headers={"X-CSRF-Token": await token(client), "Content-Type": "application/json",
                                         "Accept": "application/json"})
    assert garbled.status_code == 200 and garbled.json()["status"] == "skip"
    assert (await post_check(client, "no_such_check", {})).status_code == 404
    assert (await post_check(client, "database", {})).status_code == 404  # --local only


async def test_checks_that_need_a_session_say_so(client: httpx.AsyncClient) -> None:
    for check in ("upstream", "signalling", "websocket"):
        response = await post_check(client, check, {}, as_json=True)
        assert response.json()["status"] == "skip" and response.json()["value_text"] == "需要登录"
    row = await post_check(client, "upstream", {})
    assert "/login?next=/diagnostics" in row.text
    session = await post_check(client, "session", {"page_auth_failure": "expired"}, as_json=True)
    assert session.json()["status"] == "fail" and "Cookie" in " ".join(session.json()["fix_texts"])


async def test_the_upstream_check_runs_on_the_server(client: httpx.AsyncClient) -> None:
    await login(client)
    body = (await post_check(client, "upstream", {}, as_json=True)).json()
    assert body["status"] == "pass" and body["data"]["mode"] == "echo", body


async def test_a_run_is_saved_and_only_its_browser_owner_or_an_admin_can_read_it(
        app: Starlette, client: httpx.AsyncClient) -> None:
    created = await new_report(client)
    report_id = created["id"]
    assert created["display_id"] == display_id(report_id) and created["url"] == f"/diagnostics/reports/{report_id}"
    assert access.COOKIE in client.cookies
    await post_check(client, "server_health", {"status": 200, "latency_ms": 12}, report_id)
    await post_check(client, "mic_permission", {"outcome": "error", "error_name": "NotAllowedError"}, report_id)
    pair = {"local_type": "host", "remote_type": "srflx", "protocol": "udp", "local_address": "10.0.0.8:5000"}
    finish = await client.post(f"/diagnostics/reports/{report_id}/finish",
                               headers={"X-CSRF-Token": await token(client)},
                               data={"payload": json.dumps({"candidate_pair": pair, "mic": {"sampleRate": 48000}})})
    assert finish.status_code == 200 and display_id(report_id) in finish.text and "麦克风权限" in finish.text

    page = await client.get(f"/diagnostics/reports/{report_id}")
    assert page.status_code == 200 and display_id(report_id) in page.text
    assert 'data-testid="report-row-server_health"' in page.text and "10.0.0.8" not in page.text
    exported = (await client.get(f"/diagnostics/reports/{report_id}.json")).json()
    assert exported["id"] == display_id(report_id)
    assert [c["check"] for c in exported["checks"]] == ["server_health", "mic_permission"]
    assert exported["meta"]["candidate_pair"] == {"local_type": "host", "remote_type": "srflx", "protocol": "udp"}
    text = (await client.get(f"/diagnostics/reports/{report_id}.txt")).text
    assert display_id(report_id) in text and "❌ 麦克风权限 (mic_permission): 被拒绝：NotAllowedError" in text

    async with make_client(app) as stranger:
        assert (await stranger.get(f"/diagnostics/reports/{report_id}")).status_code == 404
        assert (await stranger.get(f"/diagnostics/reports/{report_id}.json")).status_code == 404
        # a stranger cannot write into it either
        await post_check(stranger, "server_health", {"status": 500}, report_id)
    again = (await client.get(f"/diagnostics/reports/{report_id}.json")).json()
    assert again["checks"][0]["status"] == "pass"

    svc = app.state.services
    await svc.users.create(ADMIN_EMAIL, ADMIN_PASSWORD, role="admin", check_policy=False)
    async with make_client(app) as admin:
        await login(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
        assert (await admin.get(f"/diagnostics/reports/{report_id}")).status_code == 200


async def test_ip_addresses_are_kept_only_when_the_user_opts_in(client: httpx.AsyncClient) -> None:
    report_id = (await new_report(client))["id"]
    pair = {"local_type": "srflx", "local_address": "203.0.113.7:5000", "remote_address": "198.51.100.1:3478"}
    await client.post(f"/diagnostics/reports/{report_id}/finish", headers={"X-CSRF-Token": await token(client)},
                      data={"payload": json.dumps({"candidate_pair": pair, "include_ips": True})})
    exported = (await client.get(f"/diagnostics/reports/{report_id}.json")).json()
    assert exported["meta"]["candidate_pair"]["local_address"] == "203.0.113.7:5000"
    assert exported["meta"]["include_ips"] is True


async def test_report_creation_is_rate_limited(client: httpx.AsyncClient) -> None:
    statuses = [(await client.post("/diagnostics/reports", headers={"X-CSRF-Token": await token(client)})).status_code
                for _ in range(access.CREATE_LIMIT + 1)]
    assert statuses[:-1] == [200] * access.CREATE_LIMIT and statuses[-1] == 429


async def test_support_finds_the_report_with_its_logs_and_upstream_errors(
        app: Starlette, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    record_upstream_error = app.state.services.realtime_stats.record_upstream_error
    await login(client)
    report_id = (await new_report(client))["id"]
    await post_check(client, "session", {"clock_skew_ms": 5}, report_id)
    record_upstream_error("key_rejected", "The realtime service rejected the API key (HTTP 401).", 1)
    asked: dict[str, Any] = {}

    def fake_records(since: float, until: float, user_id: str | None = None, limit: int = 0) -> list[dict[str, Any]]:
        asked.update(since=since, until=until, user_id=user_id)
        return [{"time": "2026-01-01T00:00:00.000Z", "level": "WARNING", "message": "upstream refused the call",
                 "extra": {"code": "key_rejected", "api_key": "[REDACTED]"}}]

    monkeypatch.setattr(support, "_recent_records", fake_records)
    svc = app.state.services
    await svc.users.create(ADMIN_EMAIL, ADMIN_PASSWORD, role="admin", check_policy=False)
    async with make_client(app) as admin:
        await login(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
        lookup = await admin.get("/support/reports", params={"id": display_id(report_id).lower()})
        assert lookup.status_code == 303 and lookup.headers["location"] == f"/support/reports/{report_id}"
        page = await admin.get(lookup.headers["location"])
        assert page.status_code == 200
        assert display_id(report_id) in page.text and "betty@123.com" in page.text
        assert "upstream refused the call" in page.text and "[REDACTED]" in page.text
        assert "key_rejected" in page.text and "rejected the API key" in page.text
        assert asked["user_id"] == str((await svc.users.get_by_email("betty@123.com")).id)
        assert asked["since"] < asked["until"]
        missing = await admin.get("/support/reports/ZZZZ-ZZZZ")
        assert missing.status_code == 404 and "没有这个编号的报告" in missing.text
        bad = await admin.get("/support/reports", params={"id": "nope"})
        assert bad.status_code == 200 and 'data-testid="report-lookup-error"' in bad.text
    # a user who is not an admin is refused; anonymous visitors are sent to sign in
    assert (await client.get(f"/support/reports/{report_id}")).status_code == 403
    async with make_client(app) as anonymous:
        response = await anonymous.get(f"/support/reports/{report_id}")
        assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_templates_have_no_inline_code() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "web" / "templates"
    for path in [*root.glob("pages/diagnostics*.html"), *root.glob("pages/report*.html"),
                 *root.glob("partials/diag_*.html"), root / "pages" / "support_report.html"]:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)|\son[a-z]+\s*=|\sstyle\s*=", text), path


def test_an_anonymous_run_shows_the_serious_records_and_those_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from web.diagnostics.store import StoredReport

    records = [{"level": "INFO", "message": "GET /static/app.css 200"},
               {"level": "INFO", "message": "diagnostics report started", "extra": {"report_id": "ABCD2345"}},
               {"level": "WARNING", "message": "upstream refused the call"}]
    monkeypatch.setattr(support, "_recent_records", lambda *args, **kwargs: records)
    anonymous = StoredReport(id="ABCD2345", created_at=0.0, updated_at=1.0, user_id=None, source="browser")
    assert [r["message"] for r in support.log_records(anonymous)] == [
        "diagnostics report started", "upstream refused the call"]
