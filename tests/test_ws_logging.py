"""A device token never appears in the server's log output, even at LOG_LEVEL=DEBUG, where uvicorn's WebSocket
implementation logs every handshake header line: the real server (`python -m web serve`), its real log pipeline."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
import websockets
from websockets.asyncio.client import connect

from tests.support.auth import csrf_token, login
from tests.support.live_server import LiveServerFactory, live_server_factory

__all__ = ["live_server_factory"]  # fixture

pytestmark = pytest.mark.slow


async def device_token(base_url: str) -> str:
    async with httpx.AsyncClient(base_url=base_url, headers={"Origin": base_url}) as http:
        await login(http)
        form = await csrf_token(http, "/account/tokens")
        page = await http.post("/account/tokens", data={"csrf_token": form, "name": "glasses", "expires_in_days": ""})
    match = re.search(r'data-testid="new-token">([^<]+)<', page.text)
    assert match, page.text[:300]
    return match.group(1)


async def knock(url: str, **kwargs: object) -> None:
    """Open and close; whether the call starts does not matter here, only what the handshake logged."""
    try:
        async with connect(url, **kwargs) as ws:  # type: ignore[arg-type]
            await asyncio.wait_for(ws.recv(), 5)
    except websockets.InvalidStatus:
        pass


@pytest.mark.parametrize("how", [
    "header",
    "subprotocol",
])
def test_tokens_stay_out_of_debug_logs(live_server_factory: LiveServerFactory, how: str) -> None:
    server = live_server_factory({"LOG_LEVEL": "DEBUG"})
    token = asyncio.run(device_token(server.base_url))
    url = f"ws://127.0.0.1:{server.port}/v1/realtime?model=gpt-realtime"
    if how == "header":
        asyncio.run(knock(url, additional_headers={"Authorization": f"Bearer {token}"}))
        asyncio.run(knock(url, additional_headers={"Authorization": f"Bearer {token}x"}))  # a bad one: logged too
    else:
        asyncio.run(knock(url, subprotocols=["realtime", f"openai-insecure-api-key.{token}"]))
    text = server.wait_for_log("/v1/realtime")
    assert "sec-websocket-key" in text.lower()  # DEBUG handshake lines were written, so the check means something
    assert token not in text
