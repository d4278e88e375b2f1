"""One call: a browser peer connection bound to one realtime upstream session, and everything that keeps it honest.

Lifecycle. `open()` applies the offer (a bad one fails before any upstream is contacted), then starts the upstream
while our ICE candidates are gathered, and returns the answer once both are ready. Four tasks then run: uplink
(audio chunks → upstream), downlink (upstream events → playout track and data channel), client events (data channel →
upstream) and a watchdog. `request_close(reason)` is idempotent; every path ends in `_shutdown()`, which frees the
tasks, the upstream socket and the peer connection, each with a deadline, and tells the registry.

The watchdog enforces: connected within `CONNECT_DEADLINE_S` (20 s; aiortc takes 64 s to report `failed` for
unreachable candidates), and afterwards a sign of life (an RTP packet or a data-channel message) at least every
`LIVENESS_S` (2.5 s), so a vanished browser is noticed within 3 s: aiortc has no `disconnected` state and its ICE
consent checks take ~30 s (shared/reference/aiortc.md §6).
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from aiortc import RTCConfiguration, RTCDataChannel, RTCPeerConnection
from loguru import logger

from web.media.calls.credential import Credential
from web.media.calls.upstream import RealtimeSessionLike
from web.media.rtc.channel import EventChannel
from web.media.rtc.downlink import Downlink
from web.media.rtc.negotiate import apply_offer, close_peer_connection, create_answer
from web.media.rtc.playout import PlayoutTrack
from web.media.rtc.uplink import DirectAudioPath, install_direct_path

CONNECT_DEADLINE_S = 20.0
LIVENESS_S = 2.5
WATCH_INTERVAL_S = 0.25
UPLINK_QUEUE_CHUNKS = 50  # ~1 s at 20 ms chunks; the oldest audio is dropped beyond that
LATE_UPLINK_MS = 40.0  # the receive-latency target: arrival → handed to the upstream
CLOSE_STEP_TIMEOUT_S = 3.0


class Call:
    """A `LiveCall` (web/media/calls/call.py) over WebRTC."""

    transport = "webrtc"

    def __init__(
        self,
        *,
        call_id: str,
        user_id: int,
        credential: Credential | None,
        session: RealtimeSessionLike,
        rtc_config: RTCConfiguration,
        on_closed: Callable[[Call], None],
        uplink_chunk_ms: int = 20,
        upstream_start_timeout_s: float = 15.0,
    ) -> None:
        self.id = call_id
        self.user_id = user_id
        self.credential = credential
        self.session = session
        self.pc = RTCPeerConnection(rtc_config)
        self.channel = EventChannel()
        self.playout = PlayoutTrack(on_started=self._audio_started, on_stopped=self._audio_stopped)
        self.uplink = DirectAudioPath(self._on_chunk, chunk_ms=uplink_chunk_ms)
        self.downlink = Downlink(session, self.playout, self.channel)
        self.created_at = time.monotonic()
        self.connected_at: float | None = None
        self.close_reason: str | None = None
        self.closed = asyncio.Event()
        self.latencies_ms: deque[float] = deque(maxlen=2_000)
        self.uplink_dropped = 0
        self.uplink_chunks = 0
        self.uplink_late = 0
        self._on_closed = on_closed
        self._start_timeout = upstream_start_timeout_s
        self._chunks: deque[tuple[bytes, float]] = deque()
        self._chunk_ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closer: asyncio.Task[None] | None = None
        self.pc.on("datachannel", self._on_datachannel)
        self.pc.on("connectionstatechange", self._on_state)

    # --- opening ---------------------------------------------------------------------------------------------------
    async def open(self, offer_sdp: str, session_config: dict[str, Any] | None, announced_address: str) -> str:
        """Returns the answer SDP. On any failure everything is released and the exception propagates."""
        start: asyncio.Task[None] | None = None
        try:
            transceiver = await apply_offer(self.pc, offer_sdp, self.playout)
            install_direct_path(transceiver.receiver, self.uplink)
            start = asyncio.create_task(self._start_upstream(session_config), name=f"call-{self.id}-start")
            answer = await create_answer(self.pc, announced_address)
            await start
        except BaseException:
            if start is not None and not start.done():
                start.cancel()
                await asyncio.gather(start, return_exceptions=True)
            self.request_close("open_failed")
            await self.closed.wait()
            raise
        for name, coro in (
            ("uplink", self._pump_uplink()),
            ("downlink", self.downlink.run()),
            ("client-events", self._pump_client_events()),
            ("watchdog", self._watch()),
        ):
            self._tasks.append(asyncio.create_task(coro, name=f"call-{self.id}-{name}"))
        self._tasks[1].add_done_callback(self._downlink_ended)
        return answer

    async def _start_upstream(self, session_config: dict[str, Any] | None) -> None:
        async with asyncio.timeout(self._start_timeout):
            if session_config:
                self.session.preset(session_config)
            await self.session.start()

    # --- media and events ------------------------------------------------------------------------------------------
    def _on_chunk(self, pcm: bytes, arrived: float, _rtp_ts: int) -> None:
        if len(self._chunks) >= UPLINK_QUEUE_CHUNKS:
            self._chunks.popleft()
            self.uplink_dropped += 1
        self._chunks.append((pcm, arrived))
        self._chunk_ready.set()

    async def _pump_uplink(self) -> None:
        while True:
            await self._chunk_ready.wait()
            while self._chunks:
                pcm, arrived = self._chunks.popleft()
                await self.session.append_audio(pcm)
                latency = (time.monotonic() - arrived) * 1000
                self.latencies_ms.append(latency)
                self.uplink_chunks += 1
                self.uplink_late += latency > LATE_UPLINK_MS
            self._chunk_ready.clear()

    async def _pump_client_events(self) -> None:
        while True:
            event = await self.channel.inbound.get()
            await self.session.send_client_event(event)

    def _audio_started(self, item_id: str) -> None:
        self.channel.send(self.downlink.buffer_event("output_audio_buffer.started", item_id))

    def _audio_stopped(self, item_id: str) -> None:
        self.channel.send(self.downlink.buffer_event("output_audio_buffer.stopped", item_id))

    def _downlink_ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            logger.opt(exception=exc).warning("call downlink failed", call_id=self.id)
        self.request_close(getattr(self.session, "close_reason", None) or "upstream_closed")

    def _on_datachannel(self, dc: RTCDataChannel) -> None:
        self.channel.attach(dc)

    def _on_state(self) -> None:
        state = self.pc.connectionState
        if state == "connected" and self.connected_at is None:
            self.connected_at = time.monotonic()
            logger.info("call connected", call_id=self.id, ms=round((self.connected_at - self.created_at) * 1000))
        elif state in ("failed", "closed"):
            self.request_close(f"peer_{state}")

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCH_INTERVAL_S)
            now = time.monotonic()
            if self.connected_at is None:
                if now - self.created_at > CONNECT_DEADLINE_S:
                    self.request_close("connect_timeout")
                    return
                continue
            last = max(self.connected_at, self.uplink.last_packet_at, self.channel.last_message_at)
            if now - last > LIVENESS_S:
                self.request_close("peer_gone")
                return
            if self.session.closed.is_set():
                self.request_close(self.session.close_reason or "upstream_closed")
                return

    # --- closing ---------------------------------------------------------------------------------------------------
    def request_close(self, reason: str, notify: dict[str, Any] | None = None) -> None:
        if self._closer is None:
            self.close_reason = reason
            self._closer = asyncio.create_task(self._shutdown(notify), name=f"call-{self.id}-close")

    async def close(self, reason: str, notify: dict[str, Any] | None = None) -> None:
        self.request_close(reason, notify)
        await self.closed.wait()

    async def _shutdown(self, notify: dict[str, Any] | None) -> None:
        try:
            if notify is not None and self.channel.is_open:
                self.channel.send(notify)
                await self.channel.drain(0.3)
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.session.close(self.close_reason or "closed"), CLOSE_STEP_TIMEOUT_S)
            self.channel.close()
            self.playout.stop()
            await close_peer_connection(self.pc, CLOSE_STEP_TIMEOUT_S)
        finally:
            self.closed.set()
            logger.info("call closed", call_id=self.id, reason=self.close_reason, **self.stats())
            self._on_closed(self)

    # --- numbers ---------------------------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        lat = sorted(self.latencies_ms)
        out: dict[str, Any] = {
            "uplink": self.uplink.stats(),
            "playout": self.playout.stats(),
            "uplink_dropped": self.uplink_dropped,
            "uplink_chunks": self.uplink_chunks,
            "uplink_late": self.uplink_late,
            "events_sent": self.channel.sent,
            "events_dropped": self.channel.dropped,
        }
        if lat:
            out["receive_latency_ms"] = {
                "median": round(statistics.median(lat), 2),
                "p99": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 2),
            }
        return out

