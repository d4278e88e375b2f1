"""The Agents SDK's WebSocket transport (Node, from tests/js) against the real server: with an ek_ key from our
client_secrets endpoint it connects unchanged and hears the reply, in echo mode and relayed to the fake Azure (GA and
preview paths)."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.fake_realtime import FakeRealtimeServer
from tests.support.auth import login, page_token
from tests.support.live_server import run_live_server

pytestmark = pytest.mark.slow
JS = Path(__file__).resolve().parent / "js"


def run_sdk(url: str, key: str) -> dict[str, object]:
    assert (JS / "node_modules/@openai/agents-realtime").is_dir(), "run bash scripts/bootstrap.sh --test"
    done = subprocess.run(["node", "agents_ws.mjs", url, key], cwd=JS, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_agents_sdk_websocket_transport_with_a_client_secret(tmp_path: Path) -> None:
    with run_live_server(tmp_path, {"REALTIME_UPSTREAM": "echo"}) as server:
        check_sdk(server.url("").rstrip("/"))


@pytest.mark.parametrize("mode", ["azure", "azure-preview"])
async def test_agents_sdk_websocket_transport_relayed_to_the_fake_azure(tmp_path: Path, mode: str) -> None:
    async with FakeRealtimeServer() as fake:
        env = {key.upper(): str(value) for key, value in fake.settings_overrides(mode).items()}
        with run_live_server(tmp_path, env) as server:
            base = server.url("").rstrip("/")
            key = await mint(base)
            node = await asyncio.create_subprocess_exec(  # the fake answers on this event loop meanwhile
                "node", "agents_ws.mjs", base.replace("http", "ws", 1) + "/v1/realtime?model=gpt-realtime", key,
                cwd=JS, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            async with asyncio.timeout(60):
                out, err = await node.communicate()
            assert node.returncode == 0, (out + err).decode()
    result = json.loads(out.decode().strip().splitlines()[-1])
    check_result(result)
    assert [c.protocol for c in fake.connections] == ["beta" if mode == "azure-preview" else "ga"]
    # the SDK builds its history from GA item events, which the preview path has to be translated into
    assert {"conversation.item.added", "conversation.item.done"} <= set(result["events"]), result
    assert "conversation.item.created" not in result["events"], result


async def mint(base: str) -> str:
    async with httpx.AsyncClient(base_url=base, headers={"Origin": base}) as http:
        await login(http)
        token = await page_token(http)
        response = await http.post("/v1/realtime/client_secrets", headers={"X-CSRF-Token": token})
        assert response.status_code == 200, response.text
        value: str = response.json()["value"]
        return value


def check_sdk(base: str) -> None:
    key = asyncio.run(mint(base))
    check_result(run_sdk(base.replace("http", "ws", 1) + "/v1/realtime?model=gpt-realtime", key))


def check_result(result: dict[str, object]) -> None:
    events = result["events"]
    assert isinstance(events, list) and events[0] == "session.created", result
    assert events.count("session.updated") == 3, result  # SDK's two + the script's one, once each
    assert isinstance(result["audio_bytes"], int) and result["audio_bytes"] > 24_000, result  # the echo came back
