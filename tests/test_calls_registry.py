"""The call registry sees every transport alike: admission, lookup, hang-up, revocation, shutdown and numbers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from web.media.calls import AdmissionError, CallRegistry, Credential
from web.settings import Settings


class PlainCall:
    """A call of some transport, as the registry sees it (web/media/calls/call.py)."""

    def __init__(self, registry: CallRegistry, call_id: str, user_id: int, credential: Credential | None,
                 transport: str) -> None:
        self.id, self.user_id, self.credential, self.transport = call_id, user_id, credential, transport
        self.close_reason: str | None = None
        self.closed = asyncio.Event()
        self.notified: dict[str, Any] | None = None
        self._registry = registry

    async def close(self, reason: str, notify: dict[str, Any] | None = None) -> None:
        if self.close_reason is None:
            self.close_reason, self.notified = reason, notify
            self.closed.set()
            self._registry.release(self)

    def stats(self) -> dict[str, Any]:
        return {}


async def open_call(registry: CallRegistry, user_id: int, credential: Credential | None,
                    transport: str) -> PlainCall:
    slot = await registry.admit(user_id, transport)
    call = PlainCall(registry, slot.call_id, user_id, credential, transport)
    registry.add(slot, call)
    return call


def test_credential_handles_round_trip() -> None:
    token, session = Credential.token(42), Credential.session("ab" * 32)
    assert Credential.from_handle(token.handle) == token and token.token_id == 42 and token.is_token
    assert Credential.from_handle(session.handle) == session and not session.is_token
    with pytest.raises(ValueError):
        _ = session.token_id
    assert "ab" * 32 not in str(session)  # logs see a prefix only


async def test_every_transport_is_admitted_found_hung_up_and_counted_alike() -> None:
    registry = CallRegistry(Settings(max_calls_per_user=2, max_calls_per_process=3))
    rtc = await open_call(registry, 1, Credential.session("s1"), "webrtc")
    ws = await open_call(registry, 1, Credential.token(7), "websocket")
    with pytest.raises(AdmissionError) as refused:
        await registry.admit(1, "webrtc")  # the per-user limit counts both transports
    assert refused.value.status == 429
    other = await open_call(registry, 2, None, "websocket")
    with pytest.raises(AdmissionError):
        await registry.admit(3, "websocket")  # the per-process limit too
    assert registry.stats()["by_transport"] == {"webrtc": 1, "websocket": 2}
    assert registry.get(ws.id) is ws and registry.get(rtc.id) is rtc
    assert not await registry.hang_up(ws.id, 2)  # not the owner
    assert await registry.hang_up(ws.id, 1) and ws.close_reason == "hangup"
    assert not await registry.hang_up(ws.id, 1)  # already over: 404, as the OpenAI service answers
    await registry.close_for_credentials([Credential.token(7), Credential.session("s1")])
    assert rtc.close_reason == "session_revoked" and rtc.notified is not None
    assert rtc.notified["error"]["code"] == "session_revoked"
    await registry.close_all()
    assert other.close_reason == "shutdown" and registry.active_count() == 0
    assert registry.stats()["reserved"] == 0
    with pytest.raises(AdmissionError) as closing:
        await registry.admit(4, "webrtc")
    assert closing.value.code == "shutting_down"
