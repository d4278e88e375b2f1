"""G.711 μ-law and A-law (ITU-T G.711, the `audio/pcmu` and `audio/pcma` formats) ↔ PCM16, with numpy tables.

Decoding is a 256-entry table; encoding a 65,536-entry table built once from the standard's segment rules, so each
conversion is one numpy take. (The stdlib's `audioop` did this; it is gone in Python 3.13.)
"""

from __future__ import annotations

from functools import cache

import numpy as np

_BIAS = 0x84
_CLIP14 = 8159


def _ulaw_encode(x: np.ndarray) -> np.ndarray:
    pcm = x.astype(np.int32) >> 2  # 14-bit, as the reference coder does
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    mag = np.minimum(np.where(pcm < 0, -pcm, pcm), _CLIP14) + (_BIAS >> 2)
    seg = np.searchsorted(np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF]), mag)
    uval = np.where(seg >= 8, 0x7F, (np.minimum(seg, 7) << 4) | ((mag >> (np.minimum(seg, 7) + 1)) & 0x0F))
    return np.asarray((uval ^ mask) & 0xFF, dtype=np.uint8)


def _ulaw_decode(code: np.ndarray) -> np.ndarray:
    u = ~code.astype(np.int32) & 0xFF
    exponent, mantissa = (u >> 4) & 0x07, u & 0x0F
    mag = (((mantissa << 3) + _BIAS) << exponent) - _BIAS
    return np.asarray(np.where(u & 0x80, -mag, mag), dtype=np.int16)


def _alaw_encode(x: np.ndarray) -> np.ndarray:
    pcm = x.astype(np.int32) >> 3  # 13-bit
    mask = np.where(pcm >= 0, 0xD5, 0x55)
    pcm = np.where(pcm >= 0, pcm, -pcm - 1)
    seg = np.searchsorted(np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF]), pcm)
    low = np.where(seg < 2, (pcm >> 1) & 0x0F, (pcm >> np.maximum(seg, 1)) & 0x0F)
    aval = np.where(seg >= 8, 0x7F, (np.minimum(seg, 7) << 4) | low)
    return np.asarray((aval ^ mask) & 0xFF, dtype=np.uint8)


def _alaw_decode(code: np.ndarray) -> np.ndarray:
    a = code.astype(np.int32) ^ 0x55
    seg = (a & 0x70) >> 4
    t = ((a & 0x0F) << 4) + np.where(seg == 0, 8, 0x108)
    t = np.where(seg > 1, t << np.maximum(seg - 1, 0), t)
    return np.asarray(np.where(a & 0x80, t, -t), dtype=np.int16)


@cache
def _tables(law: str) -> tuple[np.ndarray, np.ndarray]:
    """(decode[256] → int16, encode[65536] indexed by uint16 view of int16 → uint8)."""
    codes = np.arange(256, dtype=np.uint8)
    pcm = np.arange(65536, dtype=np.uint16).view(np.int16)
    if law == "ulaw":
        return _ulaw_decode(codes), _ulaw_encode(pcm)
    return _alaw_decode(codes), _alaw_encode(pcm)


def decode(data: bytes, law: str) -> bytes:
    """G.711 bytes (law `ulaw` or `alaw`) → PCM16 little-endian at the same rate."""
    table, _ = _tables(law)
    return bytes(table[np.frombuffer(data, dtype=np.uint8)].astype("<i2").tobytes())


def encode(pcm16: bytes, law: str) -> bytes:
    _, table = _tables(law)
    samples = np.frombuffer(pcm16[: len(pcm16) & ~1], dtype="<i2").astype(np.int16)
    return bytes(table[samples.view(np.uint16)].tobytes())
