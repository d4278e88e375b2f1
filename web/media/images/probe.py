"""What an image claims to be, read from its header alone: type and pixel size, before any decoding.

Reading the size first is what stops a decompression bomb: a 100-byte PNG can declare 50,000 × 50,000 pixels, and
only the header says so before the decoder allocates them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Start-of-frame markers carry the size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but are not frames.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})


class ImageRejected(Exception):
    """An image the gateway will not forward; `code` goes into the GA `error` event, the message says what to do."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ImageInfo:
    mime: str  # image/jpeg | image/png
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


def _invalid(what: str) -> ImageRejected:
    return ImageRejected("image_invalid", f"The image could not be read ({what}); send a complete JPEG or PNG file.")


def _png_info(data: bytes) -> ImageInfo:
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise _invalid("PNG without a header")
    width, height = struct.unpack(">II", data[16:24])
    return ImageInfo("image/png", width, height)


def _jpeg_info(data: bytes) -> ImageInfo:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise _invalid("JPEG segment out of place")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, or scan data before any frame header
            break
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in _SOF_MARKERS:
            if pos + 9 > len(data) or length < 8:
                break
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return ImageInfo("image/jpeg", width, height)
        pos += 2 + length
    raise _invalid("JPEG without a frame header")


def probe_image(data: bytes) -> ImageInfo:
    """Type and size from the header; raises `ImageRejected` for anything but a plausible JPEG or PNG."""
    if data.startswith(PNG_SIGNATURE):
        info = _png_info(data)
    elif data.startswith(b"\xff\xd8\xff"):
        info = _jpeg_info(data)
    else:
        raise ImageRejected("image_unsupported_type", "Only JPEG and PNG images are accepted; convert the photo "
                                                      "to JPEG and send it again.")
    if info.width == 0 or info.height == 0:
        raise _invalid("zero width or height")
    return info
