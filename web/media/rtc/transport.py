"""The WebRTC transport: its ICE servers, its process-wide start-up, and opening a `Call` for an admitted slot.

The registry (web/media/calls) owns admission and every call's life afterwards; this module only knows how to turn
an offer into a running WebRTC call and hand it over.
"""

from __future__ import annotations

from typing import Any

from web.media.audio.threads import single_thread_ffmpeg
from web.media.calls.credential import Credential
from web.media.calls.registry import CallRegistry, Slot
from web.media.rtc.call import Call
from web.media.rtc.gather_limit import limit_gathering
from web.media.rtc.ice import configure_host_addresses
from web.media.rtc.turn import IceServers
from web.settings import Settings


class RtcTransport:
    def __init__(self, settings: Settings, registry: CallRegistry) -> None:
        self.settings = settings
        self.registry = registry
        self.ice_servers = IceServers.from_settings(settings)  # a bad value fails at start-up, clearly

    def start(self) -> None:
        """The documented aiortc/aioice/FFmpeg patches (web/media/rtc/ice.py, web/media/audio/threads.py)."""
        configure_host_addresses(self.settings.rtc_host_addresses)
        limit_gathering(self.settings.rtc_ice_gather_timeout_s)
        single_thread_ffmpeg()

    def browser_ice_servers(self, user_id: int) -> list[dict[str, Any]]:
        return self.ice_servers.for_browser(user_id)

    async def open_call(
        self,
        slot: Slot,
        *,
        credential: Credential | None,
        offer_sdp: str,
        session_config: dict[str, Any] | None = None,
        log_context: dict[str, Any] | None = None,
    ) -> tuple[Call, str]:
        """Build and open a call for an admitted slot; returns (call, answer SDP). Raises `OfferError` for a bad
        offer and the upstream's error when it cannot start; the slot is released on every failure path."""
        registry = self.registry
        call_id = slot.call_id
        try:
            session = registry.new_session(call_id, slot.user_id, "webrtc", credential,
                                           {"call_id": call_id, **(log_context or {})})
            call = Call(
                call_id=call_id,
                user_id=slot.user_id,
                credential=credential,
                session=session,
                rtc_config=self.ice_servers.rtc_configuration(slot.user_id),
                on_closed=registry.release,
                upstream_start_timeout_s=self.settings.realtime_connect_timeout_s + 5.0,
            )
        except BaseException:
            registry.cancel(slot)
            raise
        registry.add(slot, call)
        answer = await call.open(offer_sdp, session_config, self.settings.rtc_announced_address)
        return call, answer
