"""What echo mode answers to an image: no model can look at it, so it says honestly what arrived (and its size)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import numpy as np

from web.media.images import ImageRejected, probe_image

from .events import SAMPLE_RATE

HEADER_CHARS = 64 * 1024  # base64 characters decoded to find the size: a multiple of 4, past any EXIF block
IMAGE_NOTE = "回声模式：收到图片 {w}×{h} (echo mode: got an image, {w}×{h})"
IMAGE_UNREADABLE = "回声模式：收到图片，但无法读取 (echo mode: got an image that could not be read)"


def image_note(item: dict[str, Any]) -> str | None:
    """The reply text for a user item with an `input_image`, or None when the item has no image."""
    content = item.get("content")
    parts = [p for p in content if isinstance(p, dict) and p.get("type") == "input_image"] \
        if isinstance(content, list) else []
    if not parts:
        return None
    url = str(parts[0].get("image_url") or "")
    try:
        info = probe_image(base64.b64decode(url.partition(",")[2][:HEADER_CHARS], validate=False))
    except (ImageRejected, binascii.Error, ValueError):
        return IMAGE_UNREADABLE
    return IMAGE_NOTE.format(w=info.width, h=info.height)


def chime(ms: int = 400, hz: float = 660.0) -> bytes:
    """A short soft tone (PCM16 24 kHz) so that an audio-only client hears that the image was answered."""
    t = np.arange(SAMPLE_RATE * ms // 1000) / SAMPLE_RATE
    envelope = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.03)
    return bytes((np.sin(2 * np.pi * hz * t) * envelope * 6000).astype("<i2").tobytes())
