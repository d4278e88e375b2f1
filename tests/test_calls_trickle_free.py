"""Offers without ICE candidates (what the OpenAI Agents SDK posts straight from createOffer()): the call connects,
the server learning the client's address from its connectivity checks (a peer-reflexive candidate)."""

from __future__ import annotations

import time

from tests.media_fixtures.helpers import SignedIn
from tests.media_fixtures.rtc_client import RtcClient, tone_bursts
from web.media.calls import CallRegistry

pytest_plugins = ("tests.media_fixtures.fixtures",)

SPEECH = tone_bursts([(0.3, 0.0), (1.0, 0.3), (2.0, 0.0)])


def without_candidates(sdp: str) -> str:
    return "".join(line + "\r\n" for line in sdp.splitlines()
                   if line and not line.startswith(("a=candidate:", "a=end-of-candidates")))


async def test_offer_without_candidates_connects_and_hears_the_reply(signed_in: SignedIn,
                                                                   registry: CallRegistry) -> None:
    http, token = signed_in
    client = RtcClient(SPEECH)
    try:
        offer = without_candidates(await client.offer_sdp())
        assert "a=candidate:" not in offer
        began = time.monotonic()
        response = await client.call(http, token, sdp=offer)
        assert response.status_code == 201, response.text
        await client.wait_connected()
        connect_ms = (time.monotonic() - began) * 1000
        print(f"candidate-free offer: POST → connected in {connect_ms:.0f} ms")
        call = registry.get(response.headers["location"].rsplit("/", 1)[1])
        assert call is not None
        ice = call.pc.getTransceivers()[0].sender.transport.transport._connection  # aioice.Connection
        assert [pair.remote_candidate.type for pair in ice._nominated.values()] == ["prflx"]
        await client.wait_event("response.done", timeout=15)
        await client.wait_event("output_audio_buffer.stopped", timeout=10)
        assert client.audio.loud_frames >= 30, client.audio.loud_frames
    finally:
        await client.close()
