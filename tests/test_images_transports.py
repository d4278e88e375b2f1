"""Photos through every transport reach the fake upstream downscaled and as valid JPEG; refusals are `error` events
(WebSocket, data channel) or HTTP errors (device endpoint) that say why, and the call goes on."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest

from tests.conftest import AppFactory
from tests.fake_realtime import FakeOptions, FakeRealtimeServer
from tests.media_fixtures.helpers import sign_in
from tests.media_fixtures.rtc_client import RtcClient
from tests.media_fixtures.wiring import wire_calls
from tests.support.images import decode_jpeg, encode, jpeg, photo_rgb, png, png_bomb
from tests.test_ws_helpers import next_event, serve, wait_for
from tests.test_ws_protocol import assert_ga_error, opened, still_usable
from web.media.rtc.channel import MAX_MESSAGE_BYTES, EventChannel


def image_item(data: bytes, mime: str = "image/jpeg", event_id: str = "evt_img") -> str:
    url = f"data:{mime};base64," + base64.b64encode(data).decode()
    return json.dumps({"type": "conversation.item.create", "event_id": event_id,
                       "item": {"type": "message", "role": "user",
                                "content": [{"type": "input_text", "text": "这是什么？"},
                                            {"type": "input_image", "image_url": url}]}})


def upstream_images(fake: FakeRealtimeServer) -> list[dict[str, Any]]:
    return [part for event in fake.received if event.get("type") == "conversation.item.create"
            for part in event["item"]["content"] if part.get("type") == "input_image"]


def decoded(part: dict[str, Any]) -> tuple[int, int, int]:
    assert part["image_url"].startswith("data:image/jpeg;base64,")
    data = base64.b64decode(part["image_url"].split(",", 1)[1])
    frame = decode_jpeg(data)
    return frame.width, frame.height, len(data)


async def test_websocket_photos_reach_the_upstream_downscaled_and_refusals_say_why(app_factory: AppFactory) -> None:
    async with FakeRealtimeServer(FakeOptions()) as fake:
        app = await app_factory(**fake.settings_overrides("azure"), image_min_interval_s=0.5)
        async with serve(app) as served:
            ws = await opened(served)
            try:
                grainy = encode(photo_rgb(2448, 3264, noise=30), "mjpeg")  # a portrait 8 MP photo over 1 MiB
                event = image_item(grainy)
                assert 1024 * 1024 < len(event) < 2 * 1024 * 1024  # past the sanitiser's 1 MiB event limit, which
                await ws.send(event)  # does not count image data (images have their own limits)
                created = await next_event(ws, "conversation.item.added", timeout=15)
                assert created["item"]["content"][0] == {"type": "input_text", "text": "这是什么？"}
                await ws.send(image_item(jpeg(64, 64), event_id="evt_soon"))  # too soon after the first
                assert_ga_error(await next_event(ws, "error"), "image_rate_limited")
                for data, mime, code in ((b"GIF89a" + bytes(64), "image/jpeg", "image_unsupported_type"),
                                         (png_bomb(30_000, 30_000), "image/png", "image_too_large"),
                                         (jpeg(800, 600)[:5000], "image/jpeg", "image_invalid")):
                    await asyncio.sleep(0.55)
                    await ws.send(image_item(data, mime))
                    event = await next_event(ws, "error", timeout=10)
                    assert_ga_error(event, code)
                    assert event["error"]["param"] == "item.content" and event["error"]["event_id"] == "evt_img"
                await still_usable(ws, "after-photos")
                session = served.registry.live_calls()[0].session  # type: ignore[attr-defined]
                assert (session.images.accepted, session.images.refused) == (1, 4)
            finally:
                await ws.close()
            await wait_for(lambda: served.registry.stats()["reserved"] == 0)  # the call's slot came back
    images = upstream_images(fake)
    assert len(images) == 1  # nothing refused leaked upstream
    width, height, size = decoded(images[0])
    assert (width, height) == (768, 1024) and size <= 160_000


async def test_data_channel_photos_reach_the_upstream_and_large_events_are_refused(app_factory: AppFactory) -> None:
    async with FakeRealtimeServer(FakeOptions()) as fake:
        app = await app_factory(**fake.settings_overrides("azure"))
        registry = await wire_calls(app)
        http, token = await sign_in(app)
        client = RtcClient()
        try:
            assert (await client.call(http, token)).status_code == 201
            await client.wait_connected()
            await client.wait_event("session.created")
            photo = jpeg(2200, 1650)  # a ~230 KB event: fits one SCTP message (aiortc and Chrome: 256 KiB)
            assert 150 * 1024 < len(image_item(photo)) < 256 * 1024
            client.send(json.loads(image_item(photo)))
            await client.wait_event("conversation.item.added", timeout=15)
            # Larger events cannot even leave a standard peer: the sender refuses them against our SDP's
            # a=max-message-size (262144), which our channel enforces too, with advice, for peers that ignore it.
            with pytest.raises(ValueError, match="262144"):
                client.send({"type": "session.update", "session": {"instructions": "x" * (300 * 1024)}})
            assert client.pc.sctp is not None and client.pc.sctp._remote_max_message_size == MAX_MESSAGE_BYTES
        finally:
            await client.close()
            await registry.close_all()
            await http.aclose()
    width, height, _size = decoded(upstream_images(fake)[0])
    assert (width, height) == (1024, 768)


def test_the_channel_refuses_oversized_events_with_advice() -> None:
    channel = EventChannel()
    sent: list[str] = []
    channel._pending.clear()
    channel.send = lambda event: sent.append(json.dumps(event))  # type: ignore[method-assign]
    channel._on_message("x" * (MAX_MESSAGE_BYTES + 1))
    (error,) = (json.loads(s)["error"] for s in sent)
    assert error["code"] == "event_too_large" and "/images" in error["message"]


async def test_device_endpoint_takes_a_photo_with_a_question_and_asks_for_a_reply(app_factory: AppFactory) -> None:
    async with FakeRealtimeServer(FakeOptions()) as fake:
        app = await app_factory(**fake.settings_overrides("azure"), image_min_interval_s=0.5)
        async with serve(app) as served:
            token = await served.token()
            ws = await opened(served)
            try:
                call_id = ws.response.headers["x-call-id"]  # what a device reads from the upgrade
                assert call_id == served.registry.live_calls()[0].id
                url = f"/v1/realtime/calls/{call_id}/images"
                async with served.http(headers=served.bearer(token)) as http:
                    raw = await http.post(url, content=png(3000, 1500), headers={"Content-Type": "image/png"},
                                          params={"text": "这块牌子写的什么？", "respond": "true"})
                    assert raw.status_code == 201, raw.text
                    assert raw.json()["image"] == {"width": 1024, "height": 512, "bytes": raw.json()["image"]["bytes"],
                                                   "source_width": 3000, "source_height": 1500}
                    await next_event(ws, "response.done", timeout=15)
                    too_soon = await http.post(url, content=jpeg(64, 64), headers={"Content-Type": "image/jpeg"})
                    assert too_soon.status_code == 429 and too_soon.headers["retry-after"] == "1"
                    await asyncio.sleep(0.55)
                    multipart = await http.post(url, files={"image": ("p.jpg", jpeg(640, 480), "image/jpeg")},
                                                data={"text": "what is this?"})
                    assert multipart.status_code == 201, multipart.text
                    await asyncio.sleep(0.55)
                    bad = await http.post(url, content=b"not a photo", headers={"Content-Type": "image/jpeg"})
                    assert bad.status_code == 415 and bad.json()["error"]["code"] == "image_unsupported_type"
                    assert "JPEG" in bad.json()["error"]["message_en"]
                    wrong = await http.post(url, content=b"x", headers={"Content-Type": "text/plain"})
                    assert wrong.status_code == 415
                svc = served.app.state.services
                other = await svc.users.create("other-wearer@example.com", "Other-wearer-pw-123")
                other_token, _record = await svc.tokens.create(other.id, "glasses", expires_in_days=None)
                async with served.http(headers=served.bearer(str(other_token))) as http:  # not this user's call
                    theirs = await http.post(url, content=jpeg(64, 64), headers={"Content-Type": "image/jpeg"})
                    assert theirs.status_code == 404 and theirs.json()["error"]["code"] == "call_not_found"
                async with served.http(headers=served.bearer(token)) as http:  # a call that is not live
                    missing = await http.post("/v1/realtime/calls/ws_nope/images", content=jpeg(64, 64),
                                              headers={"Content-Type": "image/jpeg"})
                    assert missing.status_code == 404
                async with served.http() as anonymous:  # no token, no session: the CSRF check refuses first
                    refused = await anonymous.post(url, content=jpeg(64, 64), headers={"Content-Type": "image/jpeg"})
                    assert refused.status_code == 403, refused.text
                signed = await served.signed_in()  # a session without the page's CSRF token: refused too
                try:
                    refused = await signed.post(url, content=jpeg(64, 64), headers={"Content-Type": "image/jpeg"})
                    assert refused.status_code == 403, refused.text
                finally:
                    await signed.aclose()
            finally:
                await ws.close()
    items = [e for e in fake.received if e.get("type") == "conversation.item.create"]
    assert [p["type"] for p in items[0]["item"]["content"]] == ["input_text", "input_image"]
    assert items[0]["item"]["content"][0]["text"] == "这块牌子写的什么？"
    assert fake.received_types().count("response.create") == 1
    assert [decoded(p)[:2] for p in upstream_images(fake)] == [(1024, 512), (640, 480)]


async def test_echo_mode_answers_a_photo_with_its_size(app_factory: AppFactory) -> None:
    async with serve(await app_factory()) as served:
        ws = await opened(served)
        try:
            await ws.send(image_item(jpeg(2048, 1536)))
            await next_event(ws, "conversation.item.added", timeout=15)
            await ws.send(json.dumps({"type": "response.create"}))
            done = await next_event(ws, "response.output_audio_transcript.done", timeout=10)
            assert "收到图片 1024×768" in done["transcript"]
            delta = await next_event(ws, "response.done", timeout=10)
            assert delta["response"]["status"] == "completed"
        finally:
            await ws.close()


async def test_the_preview_path_refuses_photos_clearly(app_factory: AppFactory) -> None:
    async with FakeRealtimeServer(FakeOptions()) as fake:
        async with serve(await app_factory(**fake.settings_overrides("azure-preview"))) as served:
            ws = await opened(served)
            try:
                await ws.send(image_item(jpeg(64, 64)))
                event = await next_event(ws, "error", timeout=10)
                assert_ga_error(event, "image_not_supported")
                assert "preview" in event["error"]["message"]
            finally:
                await ws.close()
    assert upstream_images(fake) == []
