"""CORS on /v1/realtime… for CORS_ALLOWED_ORIGINS only: preflight answered for the Agents SDK's headers, Location
exposed, credentials never allowed; cookie requests from a foreign origin still fail the CSRF checks."""

from __future__ import annotations

from typing import Any

from tests.conftest import make_client
from tests.media_fixtures.wiring import wire_calls
from tests.support.auth import login
from tests.test_tokens import _create

APP_ORIGIN = "https://app.example.com"
PREFLIGHT = {"Origin": APP_ORIGIN, "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization,content-type,x-openai-agents-sdk"}


async def test_preflight_for_a_listed_origin(app_factory: Any) -> None:
    app = await app_factory(cors_allowed_origins=(APP_ORIGIN,))
    async with make_client(app) as client:
        for path in ("/v1/realtime/calls", "/v1/realtime/client_secrets", "/v1/realtime/calls/rtc_x/hangup"):
            response = await client.options(path, headers=PREFLIGHT)
            assert response.status_code == 204, (path, response.text)
            assert response.headers["access-control-allow-origin"] == APP_ORIGIN
            allowed = response.headers["access-control-allow-headers"].lower()
            assert {"authorization", "content-type", "x-openai-agents-sdk"} <= set(allowed.split(", "))
            assert "POST" in response.headers["access-control-allow-methods"]
            assert "access-control-allow-credentials" not in response.headers
        other = await client.options("/v1/realtime/calls", headers={**PREFLIGHT, "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        asks_cookie = await client.options("/v1/realtime/calls",
                                           headers={**PREFLIGHT, "Access-Control-Request-Headers": "x-csrf-token"})
        assert "access-control-allow-origin" not in asks_cookie.headers
        page = await client.options("/account/tokens", headers=PREFLIGHT)
        assert "access-control-allow-origin" not in page.headers  # only the API


async def test_nothing_is_allowed_by_default(app: Any) -> None:
    async with make_client(app) as client:
        response = await client.options("/v1/realtime/calls", headers=PREFLIGHT)
        assert "access-control-allow-origin" not in response.headers


async def test_bearer_call_from_a_listed_origin_exposes_location(app_factory: Any) -> None:
    app = await app_factory(cors_allowed_origins=(APP_ORIGIN,))
    registry = await wire_calls(app)
    from tests.media_fixtures.rtc_client import RtcClient

    rtc = RtcClient()
    async with make_client(app) as web, make_client(app) as page:
        try:
            await login(web)
            token = await _create(web)
            page.cookies.clear()
            key = (await page.post("/v1/realtime/client_secrets", headers={"Authorization": f"Bearer {token}",
                                                                          "Origin": APP_ORIGIN})).json()["value"]
            response = await page.post("/v1/realtime/calls", content=(await rtc.offer_sdp()).encode(), headers={
                "Authorization": f"Bearer {key}", "Content-Type": "application/sdp", "Origin": APP_ORIGIN,
                "X-OpenAI-Agents-SDK": "openai-agents-sdk.test"})
            assert response.status_code == 201, response.text
            assert response.headers["access-control-allow-origin"] == APP_ORIGIN
            assert response.headers["access-control-expose-headers"] == "Location"
            assert "access-control-allow-credentials" not in response.headers
            # the same origin riding on a cookie session is still refused by the CSRF rules
            cookie_call = await web.post("/v1/realtime/calls", content=b"v=0\r\n",
                                         headers={"Content-Type": "application/sdp", "Origin": APP_ORIGIN})
            assert cookie_call.status_code == 403
        finally:
            await rtc.close()
            await registry.close_all()
