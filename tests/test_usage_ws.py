"""Usage and quotas over the WebSocket transport with a device token: the record names the token, and a user over
quota is refused at the handshake with 429 and a Realtime error event as the body."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import pytest
import websockets
from websockets.asyncio.client import connect

from tests.conftest import AppFactory
from tests.test_ws_helpers import next_event, serve
from web.services import Services


async def test_a_device_token_call_is_recorded_then_refused_over_quota(app_factory: AppFactory) -> None:
    app = await app_factory(quota_minutes_per_day=0.05)  # 3 s a day
    svc: Services = app.state.services
    async with serve(app) as served:
        token = await served.token()
        async with connect(served.ws_url, additional_headers=served.bearer(token)) as ws:
            assert (await next_event(ws))["type"] == "session.created"
            silence = base64.b64encode(bytes(4800)).decode()
            for _ in range(10):
                await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": silence}))
            await asyncio.sleep(0.3)
        for _ in range(50):
            await svc.usage.flush()
            row = await svc.db.fetchone("SELECT * FROM conversations")
            if row:
                break
            await asyncio.sleep(0.1)
        assert row is not None and row["transport"] == "websocket" and row["upstream"] == "echo"
        devices = await svc.tokens.list_for_user(int(row["user_id"]))
        assert row["token_id"] == devices[0].id
        assert row["audio_in_s"] == pytest.approx(1.0, abs=0.01)  # ten 100 ms appends
        now = time.time()
        await svc.db.execute("UPDATE conversations SET started_at = ?, ended_at = ?", (now - 10, now - 5))
        with pytest.raises(websockets.InvalidStatus) as caught:
            async with connect(served.ws_url, additional_headers=served.bearer(token)):
                pass
        response = caught.value.response
        assert response.status_code == 429
        body = json.loads(response.body or b"{}")
        assert body["type"] == "error" and body["error"]["code"] == "quota_exceeded"
        assert served.registry.stats()["reserved"] == 0
