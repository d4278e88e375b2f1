"""Calls through the real app (auth, CSRF, routes) with aiortc clients on loopback; echo upstream (the default)."""

from __future__ import annotations

import json

from tests.media_fixtures.helpers import SignedIn
from tests.media_fixtures.rtc_client import RtcClient, tone_bursts
from web.media.calls import CallRegistry

pytest_plugins = ("tests.media_fixtures.fixtures",)  # the `registry` and `signed_in` fixtures

# 1.2 s of "speech", then enough silence for the 500 ms VAD to end the turn
SPEECH = tone_bursts([(0.3, 0.0), (1.2, 0.3), (2.0, 0.0)])


def call_id(location: str) -> str:
    return location.rsplit("/", 1)[1]


async def test_echo_call_audio_both_ways_then_delete(signed_in: SignedIn, registry: CallRegistry) -> None:
    http, token = signed_in
    client = RtcClient(SPEECH)
    try:
        response = await client.call(http, token)
        assert response.status_code == 201, response.text
        assert response.headers["content-type"].startswith("application/sdp")
        assert response.headers["location"].startswith("/v1/realtime/calls/rtc_")
        assert response.text.startswith("v=0")
        assert registry.active_count() == 1
        await client.wait_connected()
        await client.wait_event("session.created")
        await client.wait_event("input_audio_buffer.speech_started")
        await client.wait_event("input_audio_buffer.speech_stopped")
        started = await client.wait_event("output_audio_buffer.started")
        assert started["item_id"] and started["response_id"]
        await client.wait_event("response.done", timeout=15)
        await client.wait_event("output_audio_buffer.stopped", timeout=10)
        # the reply is our own tone played back: ~1.2 s of 20 ms frames at a clearly audible level
        assert client.audio.peak_level > 0.05, client.audio.peak_level
        assert client.audio.loud_frames >= 40, client.audio.loud_frames
        assert "response.output_audio.delta" not in client.types()  # audio travels on the track only
        call = registry.get(call_id(client.location or ""))
        assert call is not None
        # aiortc's per-call decoder thread is stopped: we decode on the loop (and FFmpeg starts no pool)
        receiver = call.pc.getTransceivers()[0].receiver
        assert receiver._RTCRtpReceiver__decoder_thread is None  # type: ignore[attr-defined]
        stats = call.stats()
        assert stats["uplink"]["packets"] > 100
        assert stats["receive_latency_ms"]["median"] < 40, stats

        hang_up = await http.delete(response.headers["location"], headers={"X-CSRF-Token": token})
        assert hang_up.status_code == 204
        assert registry.active_count() == 0
        assert call.close_reason == "hangup"
        await client.wait_ended(5)
        again = await http.delete(response.headers["location"], headers={"X-CSRF-Token": token})
        assert again.status_code == 404  # as the OpenAI service answers for a call that has ended
        assert again.json()["error"]["code"] == "call_not_found"
        unknown = await http.delete("/v1/realtime/calls/rtc_0000", headers={"X-CSRF-Token": token})
        assert unknown.status_code == 404
        assert unknown.json()["error"]["code"] == "call_not_found"
    finally:
        await client.close()


async def test_multipart_offer_with_session_config_and_hangup_alias(signed_in: SignedIn,
                                                                    registry: CallRegistry) -> None:
    http, token = signed_in
    client = RtcClient()
    try:
        offer = await client.offer_sdp()
        session = {"type": "realtime", "model": "something-else", "instructions": "Answer in one word."}
        response = await http.post(
            "/v1/realtime/calls",
            files={"sdp": (None, offer, "application/sdp"), "session": (None, json.dumps(session), "application/json")},
            headers={"X-CSRF-Token": token},
        )
        assert response.status_code == 201, response.text
        from aiortc import RTCSessionDescription

        await client.pc.setRemoteDescription(RTCSessionDescription(sdp=response.text, type="answer"))
        await client.wait_connected()
        # the offer's session config is applied with the call: it shows in session.created, no session.updated
        created = await client.wait_event("session.created")
        assert created["session"].get("instructions") == "Answer in one word."
        assert created["session"].get("model") != "something-else"  # a client never picks the model
        hang_up = await http.post(response.headers["location"] + "/hangup", headers={"X-CSRF-Token": token})
        assert hang_up.status_code == 204
        assert registry.active_count() == 0
    finally:
        await client.close()


async def test_barge_in_drops_queued_reply_and_truncates(signed_in: SignedIn, registry: CallRegistry) -> None:
    # speak 1.5 s, pause so the turn ends, then talk over the echoed reply while it plays
    voice = tone_bursts([(0.3, 0.0), (1.5, 0.3), (1.0, 0.0), (0.8, 0.3), (2.0, 0.0)])
    http, token = signed_in
    client = RtcClient(voice)
    try:
        assert (await client.call(http, token)).status_code == 201
        await client.wait_connected()
        first = await client.wait_event("output_audio_buffer.started", timeout=10)
        cleared = await client.wait_event("output_audio_buffer.cleared", timeout=10)
        assert cleared["item_id"] == first["item_id"]
        truncated = await client.wait_event("conversation.item.truncated", timeout=5)
        assert truncated["item_id"] == first["item_id"]
        # cut where the user interrupted: some of the 1.5 s reply was heard, not all of it
        assert 100 <= truncated["audio_end_ms"] < 1400, truncated
        call = registry.get(call_id(client.location or ""))
        assert call is not None and call.downlink.barge_ins >= 1
        assert call.playout.stats()["queued_ms"] == 0 or call.playout.busy
    finally:
        await client.close()


async def test_data_channel_keepalive_and_bad_messages(signed_in: SignedIn, registry: CallRegistry) -> None:
    http, token = signed_in
    client = RtcClient()
    try:
        assert (await client.call(http, token)).status_code == 201
        await client.wait_connected()
        await client.wait_event("session.created")
        client.send({"type": "gateway.ping", "id": 7})
        pong = await client.wait_event("gateway.pong")
        assert pong["id"] == 7
        assert client.dc is not None
        client.dc.send("this is not json")
        error = await client.wait_event("error", match=lambda e: e["error"]["code"] == "invalid_json")
        assert error["error"]["type"] == "invalid_request_error"
        client.dc.send(json.dumps([1, 2, 3]))
        await client.wait_event("error", match=lambda e: e["error"]["code"] == "invalid_event")
        # a real client event goes through to the upstream, which answers it
        client.send({"type": "session.update", "session": {"type": "realtime", "instructions": "Hi"}})
        await client.wait_event("session.updated", match=lambda e: e["session"].get("instructions") == "Hi")
        assert registry.active_count() == 1  # none of this ends the call
    finally:
        await client.close()
