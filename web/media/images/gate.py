"""Per call: which images may enter the conversation, how often, and in what shape they leave for the model.

`ImageGate.prepare_item_event` takes a sanitised `conversation.item.create` whose content holds `input_image` parts and
returns it with every image replaced by the downscaled JPEG; `prepare_bytes` does the same for a raw upload. Decoding
runs in a worker thread, never on the event loop. Refusals raise `ImageRejected` with a code and a message saying why.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from dataclasses import dataclass
from typing import Any

from web.settings import Settings

from .probe import ImageRejected, probe_image
from .transcode import to_bounded_jpeg

DATA_URL_PREFIXES = ("data:image/jpeg;base64,", "data:image/jpg;base64,", "data:image/png;base64,")
DETAILS = frozenset({"auto", "low", "high"})
MAX_IMAGES_PER_ITEM = 1


@dataclass(frozen=True)
class ImagePolicy:
    max_side: int = 1024
    max_jpeg_bytes: int = 160_000
    max_input_bytes: int = 8 * 1024 * 1024
    max_pixels: int = 50_000_000
    min_interval_s: float = 1.0
    supported: bool = True  # False on an upstream protocol that has no image input (Azure's preview path)

    @classmethod
    def from_settings(cls, settings: Settings, *, supported: bool = True) -> ImagePolicy:
        return cls(max_side=settings.image_max_side, max_jpeg_bytes=settings.image_max_jpeg_bytes,
                   max_input_bytes=settings.image_max_input_bytes, max_pixels=settings.image_max_pixels,
                   min_interval_s=settings.image_min_interval_s, supported=supported)


@dataclass(frozen=True)
class PreparedImage:
    jpeg: bytes
    width: int
    height: int
    source_width: int
    source_height: int

    @property
    def data_url(self) -> str:
        return "data:image/jpeg;base64," + base64.b64encode(self.jpeg).decode("ascii")


def has_image(event: dict[str, Any]) -> bool:
    item = event.get("item")
    content = item.get("content") if isinstance(item, dict) else None
    return isinstance(content, list) and any(isinstance(p, dict) and p.get("type") == "input_image" for p in content)


def decode_data_url(url: Any, max_bytes: int) -> bytes:
    if not isinstance(url, str):
        raise ImageRejected("image_invalid", "input_image needs an 'image_url' string: "
                                             "data:image/jpeg;base64,<the photo>.")
    prefix = next((p for p in DATA_URL_PREFIXES if url[:40].lower().startswith(p)), None)
    if prefix is None:
        raise ImageRejected("image_unsupported_type", "image_url must be a data URL of a JPEG or PNG "
                                                      "(data:image/jpeg;base64,…); links are not fetched.")
    encoded = url[len(prefix):]
    if len(encoded) > (max_bytes * 4) // 3 + 4:
        raise ImageRejected("image_too_large", f"The image is larger than {max_bytes // (1024 * 1024)} MiB; "
                                               "lower the camera resolution and send it again.")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageRejected("image_invalid", "The image's base64 is not valid; send the photo again.") from exc


class ImageGate:
    """One per call: the rate limit's clock and the policy."""

    def __init__(self, policy: ImagePolicy | None = None) -> None:
        self.policy = policy or ImagePolicy()
        self._last_accepted = -float("inf")
        self.accepted = 0
        self.refused = 0

    def _take_slot(self) -> None:
        if not self.policy.supported:
            raise ImageRejected("image_not_supported", "This voice service connection (Azure's preview API) cannot "
                                                       "take images; the operator can switch to the GA endpoint.")
        now = time.monotonic()
        wait = self._last_accepted + self.policy.min_interval_s - now
        if wait > 0:
            raise ImageRejected("image_rate_limited", f"Too many images: at most one every "
                                                      f"{self.policy.min_interval_s:g} s; wait {wait:.1f} s and "
                                                      "send it again.")
        self._last_accepted = now

    async def prepare_bytes(self, data: bytes) -> PreparedImage:
        try:
            self._take_slot()
            return await self._transcode(data)
        except ImageRejected:
            self.refused += 1
            raise

    async def _transcode(self, data: bytes) -> PreparedImage:
        policy = self.policy
        if len(data) > policy.max_input_bytes:
            raise ImageRejected("image_too_large", f"The image is larger than "
                                                   f"{policy.max_input_bytes // (1024 * 1024)} MiB; lower the camera "
                                                   "resolution and send it again.")
        info = probe_image(data)
        if info.pixels > policy.max_pixels:
            raise ImageRejected("image_too_large", f"The image has {info.width}×{info.height} pixels, more than "
                                                   f"{policy.max_pixels // 1_000_000} megapixels; lower the camera "
                                                   "resolution.")
        jpeg, width, height = await asyncio.to_thread(to_bounded_jpeg, data, info, max_side=policy.max_side,
                                                      max_bytes=policy.max_jpeg_bytes)
        self.accepted += 1
        return PreparedImage(jpeg, width, height, info.width, info.height)

    async def prepare_item_event(self, event: dict[str, Any]) -> dict[str, Any]:
        """The event with each `input_image` part replaced by the prepared JPEG (`detail` kept if valid)."""
        try:
            self._take_slot()
            item = dict(event["item"])
            parts: list[Any] = []
            images = 0
            for part in item.get("content") or []:
                if not (isinstance(part, dict) and part.get("type") == "input_image"):
                    parts.append(part)
                    continue
                images += 1
                if images > MAX_IMAGES_PER_ITEM:
                    raise ImageRejected("image_too_many", "Send one image per conversation item.")
                prepared = await self._transcode(decode_data_url(part.get("image_url"),
                                                                 self.policy.max_input_bytes))
                clean: dict[str, Any] = {"type": "input_image", "image_url": prepared.data_url}
                if part.get("detail") in DETAILS:
                    clean["detail"] = part["detail"]
                parts.append(clean)
        except ImageRejected:
            self.refused += 1
            raise
        item["content"] = parts
        return {**event, "item": item}
