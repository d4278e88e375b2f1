"""Decode a JPEG/PNG with FFmpeg (PyAV), shrink it to a longest side, and encode a JPEG under a byte budget.

Synchronous and CPU-bound: callers run it in a worker thread. FFmpeg's `err_detect=explode` makes truncated or
corrupt data an error instead of a half-grey picture, so "decoded for real" means every byte was valid.
"""

from __future__ import annotations

import fractions

import av

from .probe import ImageInfo, ImageRejected

# FFmpeg's JPEG quantiser scale: 2 is near-lossless, 31 the coarsest; tried in order until the result fits.
QUALITY_LADDER = (3, 5, 8, 12, 18, 26, 31)
_CODECS = {"image/jpeg": "mjpeg", "image/png": "png"}


def decode_frame(data: bytes, info: ImageInfo) -> av.VideoFrame:
    decoder = av.CodecContext.create(_CODECS[info.mime], "r")
    assert isinstance(decoder, av.VideoCodecContext)
    decoder.options = {"err_detect": "explode"}
    decoder.thread_count = 1
    try:
        frames = [*decoder.decode(av.Packet(data)), *decoder.decode(None)]
    except (av.FFmpegError, ValueError) as exc:
        raise ImageRejected("image_invalid", "The image is damaged or incomplete; take the photo again and send the "
                                             "whole file.") from exc
    video = [f for f in frames if isinstance(f, av.VideoFrame)]
    if not video or (video[0].width, video[0].height) != (info.width, info.height):
        raise ImageRejected("image_invalid", "The image could not be decoded; send a standard JPEG or PNG file.")
    return video[0]


def fitted_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """Size with the longest side at most `max_side`, aspect kept, both sides even (4:2:0 chroma needs it)."""
    scale = min(1.0, max_side / max(width, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def _encode(frame: av.VideoFrame, quality: int) -> bytes:
    encoder = av.CodecContext.create("mjpeg", "w")
    assert isinstance(encoder, av.VideoCodecContext)
    encoder.width, encoder.height, encoder.pix_fmt = frame.width, frame.height, "yuvj420p"
    encoder.time_base = fractions.Fraction(1, 1)
    encoder.thread_count = 1
    encoder.options = {"qmin": str(quality), "qmax": str(quality)}
    return b"".join(bytes(p) for p in [*encoder.encode(frame), *encoder.encode(None)])


def to_bounded_jpeg(data: bytes, info: ImageInfo, *, max_side: int, max_bytes: int) -> tuple[bytes, int, int]:
    """(jpeg, width, height) of the image shrunk to `max_side` and encoded at the best quality within `max_bytes`."""
    frame = decode_frame(data, info)
    width, height = fitted_size(frame.width, frame.height, max_side)
    small = frame.reformat(width=width, height=height, format="yuvj420p", interpolation="AREA")
    for quality in QUALITY_LADDER:
        jpeg = _encode(small, quality)
        if len(jpeg) <= max_bytes:
            return jpeg, width, height
    raise ImageRejected("image_too_large", "The image cannot be made small enough to send; lower the camera "
                                           "resolution and try again.")
