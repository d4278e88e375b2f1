"""The conversation item that carries one prepared image (and the wearer's question, if any)."""

from __future__ import annotations

from typing import Any

from .gate import PreparedImage

MAX_TEXT_CHARS = 2_000


def image_item_event(image: PreparedImage, text: str | None = None) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if text:
        content.append({"type": "input_text", "text": text[:MAX_TEXT_CHARS]})
    content.append({"type": "input_image", "image_url": image.data_url})
    return {"type": "conversation.item.create",
            "item": {"type": "message", "role": "user", "content": content}}
