"""The server's view of a diagnostics call: read from the live call in the registry, only by its own user."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from starlette.applications import Starlette

from tests.conftest import make_client
from tests.media_fixtures.fixtures import SignedIn, registry, signed_in  # noqa: F401  (fixtures)
from tests.media_fixtures.rtc_client import RtcClient, tone_bursts
from tests.support.auth import login, page_token
from web.diagnostics.server_view import call_view, selected_pair
from web.media.calls import CallRegistry

SOUND = tone_bursts([(2.0, 0.2)])


async def server_view(http: httpx.AsyncClient, token: str, call_id: str) -> dict[str, Any]:
    response = await http.post("/diagnostics/checks/server_view",
                               json={"values": {"call_id": call_id, "browser": {"rtt_ms": 1.5, "protocol": "udp"}}},
                               headers={"X-CSRF-Token": token, "Accept": "application/json"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_the_server_reports_its_side_of_the_call(app: Starlette, signed_in: SignedIn,  # noqa: F811
                                                       registry: CallRegistry) -> None:  # noqa: F811
    http, token = signed_in
    client = RtcClient(SOUND)
    try:
        assert (await client.call(http, token)).status_code == 201
        await client.wait_connected()
        await client.wait_event("session.created")  # sent over SCTP: the server's side is connected too
        call_id = (client.location or "").rsplit("/", 1)[1]
        call = registry.get(call_id)
        assert call is not None
        pair = selected_pair(call.pc)
        assert pair["local_type"] == "host" and pair["protocol"] == "udp" and "local_address" not in pair
        assert selected_pair(call.pc, include_addresses=True)["local_address"].startswith("127.0.0.1:")
        view = await call_view(call)
        for _ in range(50):  # session.created can arrive before the first RTP packet has been counted
            if view.get("packets_received", 0) > 0:
                break
            await asyncio.sleep(0.1)
            view = await call_view(call)
        assert view["state"] == "connected" and view["packets_received"] > 0, view

        body = await server_view(http, token, call_id)
        assert body["status"] == "pass", body
        assert body["data"]["state"] == "connected" and body["data"]["browser"]["rtt_ms"] == 1.5
        gone = await server_view(http, token, "rtc_does_not_exist")
        assert gone["status"] == "fail" and gone["value_text"] == "服务器看不到这个通话"

        # another account cannot read this call
        await app.state.services.users.create("eve@example.com", "Eve-Passw0rd!x", check_policy=False)
        async with make_client(app) as eve:
            await login(eve, "eve@example.com", "Eve-Passw0rd!x")
            stolen = await server_view(eve, await page_token(eve, "/diagnostics"), call_id)
            assert stolen["status"] == "fail" and "state" not in stolen.get("data", {})
    finally:
        await client.close()
