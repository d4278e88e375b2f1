"""Opus coding for the voice path: mono PCM16 in and out, 20 ms frames, at the rate the other side needs.

We call libopus itself (through ctypes) instead of PyAV's codec contexts, for two reasons measured in
docs/benchmarks-workers.md:

- **No resampling.** libopus decodes to and encodes from 8, 12, 16, 24 or 48 kHz natively. The model speaks and
  listens at 24 kHz, so the uplink is decoded straight to 24 kHz and the reply is encoded straight from 24 kHz; the
  FFmpeg resampler graphs that used to sit on both sides of the codec are gone. (FFmpeg's libopus decoder always
  outputs 48 kHz.) The RTP clock stays at 48 kHz whatever the coded rate: an Opus packet says its own duration.
- **No per-frame objects.** PyAV needs an `AudioFrame` (with a `Fraction` time base) and a `Packet` per 20 ms; here a
  frame is one C call on bytes.

The browser negotiates `opus/48000/2`, but every Opus decoder accepts mono packets and a voice reply has no stereo
content, so the downlink is encoded mono, and libopus downmixes a stereo uplink itself.

The library is the copy PyAV already loaded (found in /proc/self/maps, so the pinned wheel's libopus is the one we
call), else the system's `libopus.so.0`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

import av  # noqa: F401  (imported for its side effect: PyAV's libopus is mapped into the process)

OPUS_RATE = 48_000  # the RTP clock of Opus, whatever rate a stream is coded at
FRAME_SAMPLES = 960  # 20 ms at 48 kHz: the RTP timestamp step per packet
RATES = (8_000, 12_000, 16_000, 24_000, 48_000)
MAX_PACKET_BYTES = 4_000  # libopus's recommended output buffer
MAX_FRAME_MS = 120  # the longest an Opus packet can be

_APPLICATION_AUDIO = 2049
_SET_BITRATE = 4002
_SET_COMPLEXITY = 4010


class OpusError(ValueError):
    """libopus refused a packet or a frame (corrupt payload, wrong frame size)."""


def _mapped_libopus() -> str | None:
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            for line in maps:
                path = line.rsplit(None, 1)[-1]
                if "/libopus" in path and ".so" in path:
                    return path
    except OSError:
        return None
    return None


@functools.cache
def _lib() -> ctypes.CDLL:
    """The loaded libopus with typed signatures (loaded once per process; the handle never changes)."""
    path = _mapped_libopus() or ctypes.util.find_library("opus")
    if path is None:
        raise RuntimeError("libopus not found: reinstall the pinned PyAV wheel, or install libopus0")
    lib = ctypes.CDLL(path)
    p, i, i32 = ctypes.c_void_p, ctypes.c_int, ctypes.c_int32
    err = ctypes.POINTER(ctypes.c_int)
    lib.opus_decoder_create.argtypes, lib.opus_decoder_create.restype = [i32, i, err], p
    lib.opus_decode.argtypes, lib.opus_decode.restype = [p, ctypes.c_char_p, i32, p, i, i], i
    lib.opus_decoder_destroy.argtypes, lib.opus_decoder_destroy.restype = [p], None
    lib.opus_encoder_create.argtypes, lib.opus_encoder_create.restype = [i32, i, i, err], p
    lib.opus_encode.argtypes, lib.opus_encode.restype = [p, ctypes.c_char_p, i, p, i32], i32
    lib.opus_encoder_ctl.restype = i  # variadic: int arguments only
    lib.opus_encoder_destroy.argtypes, lib.opus_encoder_destroy.restype = [p], None
    lib.opus_strerror.argtypes, lib.opus_strerror.restype = [i], ctypes.c_char_p
    return lib


def _error(lib: ctypes.CDLL, code: int) -> OpusError:
    return OpusError(f"libopus: {(lib.opus_strerror(code) or b'error').decode()} ({code})")


def _check_rate(rate: int) -> None:
    if rate not in RATES:
        raise ValueError(f"Opus codes at {', '.join(map(str, RATES))} Hz, not {rate}")


class OpusMonoDecoder:
    """Decodes one Opus payload (one RTP packet) to mono PCM16 at `rate`."""

    def __init__(self, rate: int = OPUS_RATE) -> None:
        _check_rate(rate)
        self.rate = rate
        self._lib = lib = _lib()
        status = ctypes.c_int(0)
        self._state = lib.opus_decoder_create(rate, 1, ctypes.byref(status))
        if not self._state or status.value != 0:
            raise _error(lib, status.value)
        self._max_samples = rate * MAX_FRAME_MS // 1000
        self._out = (ctypes.c_int16 * self._max_samples)()

    def decode(self, payload: bytes) -> bytes:
        if not payload:
            raise OpusError("libopus: empty packet")
        samples = self._lib.opus_decode(self._state, payload, len(payload), self._out, self._max_samples, 0)
        if samples < 0:
            raise _error(self._lib, samples)
        return ctypes.string_at(self._out, samples * 2)

    def __del__(self) -> None:
        state, self._state = getattr(self, "_state", None), None
        if state:
            self._lib.opus_decoder_destroy(state)


class OpusMonoEncoder:
    """Encodes 20 ms of mono PCM16 at `rate` to one Opus packet.

    CELT-leaning "audio" mode at complexity 5 costs about half of SILK ("voip") at complexity 10 per frame (measured
    132 vs 372 µs on the 2-core test machine) and is transparent for speech at 40 kbit/s.
    """

    def __init__(self, rate: int = OPUS_RATE, bitrate: int = 40_000, complexity: int = 5) -> None:
        _check_rate(rate)
        self.rate = rate
        self.frame_bytes = rate // 50 * 2
        self._lib = lib = _lib()
        status = ctypes.c_int(0)
        self._state = lib.opus_encoder_create(rate, 1, _APPLICATION_AUDIO, ctypes.byref(status))
        if not self._state or status.value != 0:
            raise _error(lib, status.value)
        for request, value in ((_SET_BITRATE, bitrate), (_SET_COMPLEXITY, complexity)):
            code = lib.opus_encoder_ctl(ctypes.c_void_p(self._state), ctypes.c_int(request), ctypes.c_int(value))
            if code != 0:
                raise _error(lib, code)
        self._out = ctypes.create_string_buffer(MAX_PACKET_BYTES)

    def encode(self, pcm: bytes) -> bytes:
        """One packet's payload. Each 20 ms frame in gives exactly one packet out (libopus buffers no frames; the
        first output carries the codec's few milliseconds of delay, which is fine for speech)."""
        if len(pcm) != self.frame_bytes:
            raise OpusError(f"an Opus frame here is 20 ms: {self.frame_bytes} bytes at {self.rate} Hz, not {len(pcm)}")
        size = self._lib.opus_encode(self._state, pcm, self.frame_bytes // 2, self._out, MAX_PACKET_BYTES)
        if size < 0:
            raise _error(self._lib, size)
        return ctypes.string_at(self._out, size)

    def __del__(self) -> None:
        state, self._state = getattr(self, "_state", None), None
        if state:
            self._lib.opus_encoder_destroy(state)
