"""Test photos made in-process (PyAV + numpy): a noisy gradient JPEG/PNG of any size, and decoding for checks."""

from __future__ import annotations

import fractions
import struct
import zlib

import av
import numpy as np


def photo_rgb(width: int, height: int, seed: int = 1, noise: int = 12) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 255 // max(1, width - 1), y * 255 // max(1, height - 1), (x + y) % 256], axis=-1)
    grain = rng.integers(0, noise + 1, size=(height, width, 3))
    return np.asarray(np.clip(rgb + grain, 0, 255), dtype=np.uint8)


def encode(rgb: np.ndarray, codec: str) -> bytes:
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    encoder = av.CodecContext.create(codec, "w")
    assert isinstance(encoder, av.VideoCodecContext)
    encoder.width, encoder.height = frame.width, frame.height
    encoder.pix_fmt = "yuvj420p" if codec == "mjpeg" else "rgb24"
    encoder.time_base = fractions.Fraction(1, 1)
    if codec == "mjpeg":
        encoder.options = {"qmin": "4", "qmax": "4"}
        frame = frame.reformat(format="yuvj420p")
    return b"".join(bytes(p) for p in [*encoder.encode(frame), *encoder.encode(None)])


def jpeg(width: int, height: int, seed: int = 1) -> bytes:
    return encode(photo_rgb(width, height, seed), "mjpeg")


def png(width: int, height: int, seed: int = 1) -> bytes:
    return encode(photo_rgb(width, height, seed, noise=0), "png")  # a screenshot-like PNG: grain makes it huge


def png_bomb(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares `width` × `height` pixels (its data is a few bytes)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + \
        chunk(b"IEND", b"")


def decode_jpeg(data: bytes) -> av.VideoFrame:
    """Decode strictly (corrupt or truncated data raises), as a check that a JPEG is valid."""
    assert data[:3] == b"\xff\xd8\xff" and data[-2:] == b"\xff\xd9"
    decoder = av.CodecContext.create("mjpeg", "r")
    decoder.options = {"err_detect": "explode"}
    frames = [*decoder.decode(av.Packet(data)), *decoder.decode(None)]  # type: ignore[attr-defined]
    assert len(frames) == 1 and isinstance(frames[0], av.VideoFrame)
    return frames[0]
