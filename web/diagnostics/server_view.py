"""The server's side of a diagnostics call: its selected candidate pair, RTT and loss, read from the live call.

The call registry (`Services.calls`, web/media/calls/registry.py) hands out WebRTC `Call` objects with a public `pc`
(aiortc RTCPeerConnection) and `user_id`. aiortc exposes no candidate-pair stats, so the pair comes from the ICE
transport's aioice connection (`_connection._nominated`, private): read defensively, absent fields become None.
"""

from __future__ import annotations

import asyncio
from typing import Any

from loguru import logger

from web.media.rtc.call import Call

STATS_TIMEOUT_S = 2.0
OPUS_CLOCK_HZ = 48_000


def _ice_connection(pc: Any) -> Any:
    for transceiver in pc.getTransceivers():
        dtls = getattr(transceiver.receiver, "transport", None) or getattr(transceiver.sender, "transport", None)
        ice = getattr(dtls, "transport", None)
        if ice is not None:
            return getattr(ice, "_connection", None)
    sctp = getattr(pc, "sctp", None)
    ice = getattr(getattr(sctp, "transport", None), "transport", None)
    return getattr(ice, "_connection", None)


def selected_pair(pc: Any, include_addresses: bool = False) -> dict[str, Any]:
    """Types and protocol of the nominated pair of component 1 (addresses only when asked)."""
    try:
        connection = _ice_connection(pc)
        nominated = getattr(connection, "_nominated", {}) if connection is not None else {}
        pair = nominated.get(1) if isinstance(nominated, dict) else None
        if pair is None:
            return {}
        local, remote = pair.local_candidate, pair.remote_candidate
        out: dict[str, Any] = {"local_type": local.type, "remote_type": remote.type,
                               "protocol": str(local.transport).lower()}
        if include_addresses:
            out.update(local_address=f"{local.host}:{local.port}", remote_address=f"{remote.host}:{remote.port}")
        return out
    except Exception:  # private aioice structures: never let a diagnostics read break a call
        logger.opt(exception=True).debug("could not read the selected candidate pair")
        return {}


async def call_view(call: Any, include_addresses: bool = False) -> dict[str, Any]:
    pc = call.pc
    view: dict[str, Any] = {"state": pc.connectionState, **selected_pair(pc, include_addresses)}
    try:
        report = await asyncio.wait_for(pc.getStats(), STATS_TIMEOUT_S)
    except Exception:
        logger.opt(exception=True).debug("getStats failed for a diagnostics call")
        return view
    for stat in report.values():
        kind = getattr(stat, "type", "")
        if kind == "inbound-rtp":
            received, lost = int(stat.packetsReceived or 0), max(0, int(stat.packetsLost or 0))
            view["packets_received"] = received
            view["loss_pct"] = round(100 * lost / (received + lost), 2) if received + lost else 0.0
            view["jitter_ms"] = round(1000 * float(stat.jitter or 0) / OPUS_CLOCK_HZ, 1)
        elif kind == "remote-inbound-rtp":
            if stat.roundTripTime is not None:
                view["rtt_ms"] = round(float(stat.roundTripTime) * 1000, 1)
            view["remote_loss_pct"] = round(100 * float(stat.fractionLost or 0) / 256, 2)
    return view


async def server_view_operation(call: Any, body: dict[str, Any]) -> dict[str, Any] | None:
    """The server view as a call operation (web/cluster/router.py): run by the process that owns the call."""
    if not isinstance(call, Call):  # a WebSocket call has no media path
        return None
    return await call_view(call, include_addresses=body.get("include_ips") is True)
