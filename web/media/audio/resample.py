"""A single-threaded PCM16 resampler (FFmpeg filter graph with `threads = 1`)."""

from __future__ import annotations

import errno
import fractions

import av
import numpy as np
from av.filter import Graph

from web.media.audio.threads import single_thread_ffmpeg


def frame_to_pcm(frame: av.AudioFrame) -> bytes:
    """Packed s16 bytes of a frame. `to_ndarray()` rather than `bytes(plane)`: planes may carry padding."""
    return bytes(frame.to_ndarray().tobytes())


def pcm_to_frame(pcm: bytes, rate: int, pts: int | None = None, layout: str = "mono") -> av.AudioFrame:
    channels = 2 if layout == "stereo" else 1
    samples = np.frombuffer(pcm, dtype=np.int16).reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(samples, format="s16", layout=layout)
    frame.sample_rate = rate
    frame.time_base = fractions.Fraction(1, rate)
    frame.pts = pts
    assert samples.shape[1] % channels == 0
    return frame


class PcmResampler:
    """Converts s16 audio of one input shape (rate, layout) to s16 mono at `out_rate`.

    Unlike `av.AudioResampler`, the graph is single-threaded; it is built lazily from the first frame, and rebuilt if
    the input shape ever changes (a codec renegotiation, say) instead of raising.
    """

    def __init__(self, out_rate: int) -> None:
        single_thread_ffmpeg()
        self.out_rate = out_rate
        self._graph: Graph | None = None
        self._shape: tuple[int, str] | None = None

    def _build(self, rate: int, layout: str) -> Graph:
        graph = Graph()
        graph.threads = 1  # must be set before any filter is added
        src = graph.add(
            "abuffer", sample_rate=str(rate), sample_fmt="s16", channel_layout=layout, time_base=f"1/{rate}"
        )
        fmt = graph.add("aformat", sample_rates=str(self.out_rate), sample_fmts="s16", channel_layouts="mono")
        sink = graph.add("abuffersink")
        src.link_to(fmt)
        fmt.link_to(sink)
        graph.configure()
        return graph

    def resample(self, frame: av.AudioFrame) -> bytes:
        """Push one s16 frame, return all mono PCM16 bytes available at `out_rate` (may be slightly more or less
        than one frame's worth: the filter has a few samples of delay)."""
        shape = (frame.sample_rate, frame.layout.name)
        if shape == (self.out_rate, "mono"):
            return frame_to_pcm(frame)
        if self._graph is None or shape != self._shape:
            self._graph = self._build(*shape)
            self._shape = shape
        self._graph.push(frame)
        out: list[bytes] = []
        while True:
            try:
                pulled = self._graph.pull()
            except EOFError:
                break
            except av.FFmpegError as exc:
                if exc.errno != errno.EAGAIN:
                    raise
                break
            assert isinstance(pulled, av.AudioFrame)
            out.append(frame_to_pcm(pulled))
        return b"".join(out)
