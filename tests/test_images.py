"""The image module alone: real decoding, header-first size checks, downscaling, the JPEG budget, the rate limit."""

from __future__ import annotations

import base64

import pytest

from tests.support.images import decode_jpeg, jpeg, png, png_bomb
from web.media.images import ImageGate, ImagePolicy, ImageRejected, probe_image
from web.media.images.gate import has_image


def item_event(data: bytes, mime: str = "image/jpeg", **part: str) -> dict:
    url = f"data:{mime};base64," + base64.b64encode(data).decode()
    return {"type": "conversation.item.create",
            "item": {"type": "message", "role": "user",
                     "content": [{"type": "input_text", "text": "这是什么？"},
                                 {"type": "input_image", "image_url": url, **part}]}}


def test_probe_reads_type_and_size_from_the_header() -> None:
    assert (probe_image(jpeg(640, 480)).mime, probe_image(jpeg(640, 480)).width) == ("image/jpeg", 640)
    info = probe_image(png(300, 200))
    assert (info.mime, info.width, info.height) == ("image/png", 300, 200)


@pytest.mark.parametrize("data", [b"GIF89a" + bytes(100), b"<svg xmlns='http://www.w3.org/2000/svg'/>", b"",
                                  b"hello world"])
def test_non_images_are_refused_as_unsupported(data: bytes) -> None:
    with pytest.raises(ImageRejected) as caught:
        probe_image(data)
    assert caught.value.code == "image_unsupported_type"


async def test_a_large_photo_is_downscaled_to_a_valid_jpeg_within_budget() -> None:
    gate = ImageGate(ImagePolicy(max_side=1024, max_jpeg_bytes=150_000))
    prepared = await gate.prepare_bytes(jpeg(3264, 2448))
    assert (prepared.width, prepared.height) == (1024, 768)
    assert (prepared.source_width, prepared.source_height) == (3264, 2448)
    assert len(prepared.jpeg) <= 150_000
    frame = decode_jpeg(prepared.jpeg)
    assert (frame.width, frame.height) == (1024, 768)


async def test_png_becomes_jpeg_and_a_small_image_keeps_its_size() -> None:
    prepared = await ImageGate().prepare_bytes(png(400, 300))
    assert (prepared.width, prepared.height) == (400, 300)
    decode_jpeg(prepared.jpeg)


@pytest.mark.parametrize("cut", [0.5, 0.9])
async def test_truncated_images_are_refused(cut: float) -> None:
    for data in (jpeg(800, 600), png(800, 600)):
        with pytest.raises(ImageRejected) as caught:
            await ImageGate().prepare_bytes(data[: int(len(data) * cut)])
        assert caught.value.code == "image_invalid"


async def test_a_decompression_bomb_is_refused_from_its_header() -> None:
    bomb = png_bomb(40_000, 40_000)
    assert len(bomb) < 200
    with pytest.raises(ImageRejected) as caught:
        await ImageGate(ImagePolicy(max_pixels=50_000_000)).prepare_bytes(bomb)
    assert caught.value.code == "image_too_large" and "40000×40000" in caught.value.message


async def test_oversized_input_is_refused_before_decoding() -> None:
    with pytest.raises(ImageRejected) as caught:
        await ImageGate(ImagePolicy(max_input_bytes=10_000)).prepare_bytes(jpeg(800, 600))
    assert caught.value.code == "image_too_large"


async def test_images_are_rate_limited_per_gate() -> None:
    gate = ImageGate(ImagePolicy(min_interval_s=1.0))
    await gate.prepare_bytes(jpeg(64, 64))
    with pytest.raises(ImageRejected) as caught:
        await gate.prepare_bytes(jpeg(64, 64))
    assert caught.value.code == "image_rate_limited"
    await ImageGate(ImagePolicy(min_interval_s=1.0)).prepare_bytes(jpeg(64, 64))  # another call is not affected
    assert (gate.accepted, gate.refused) == (1, 1)


async def test_item_events_get_the_prepared_image_and_keep_text_and_detail() -> None:
    event = item_event(png(2000, 1000), "image/png", detail="low")
    assert has_image(event)
    out = await ImageGate().prepare_item_event(event)
    text, image = out["item"]["content"]
    assert text == {"type": "input_text", "text": "这是什么？"}
    assert image["detail"] == "low" and image["image_url"].startswith("data:image/jpeg;base64,")
    frame = decode_jpeg(base64.b64decode(image["image_url"].split(",", 1)[1]))
    assert (frame.width, frame.height) == (1024, 512)


@pytest.mark.parametrize(("url", "code"), [
    ("https://example.com/cat.jpg", "image_unsupported_type"),
    ("data:image/gif;base64,R0lGODlh", "image_unsupported_type"),
    ("data:image/jpeg;base64,@@@@", "image_invalid"),
])
async def test_item_events_with_bad_urls_are_refused(url: str, code: str) -> None:
    event = item_event(b"")
    event["item"]["content"][1]["image_url"] = url
    with pytest.raises(ImageRejected) as caught:
        await ImageGate().prepare_item_event(event)
    assert caught.value.code == code


async def test_an_upstream_without_image_input_refuses_clearly() -> None:
    with pytest.raises(ImageRejected) as caught:
        await ImageGate(ImagePolicy(supported=False)).prepare_bytes(jpeg(64, 64))
    assert caught.value.code == "image_not_supported" and "preview" in caught.value.message
