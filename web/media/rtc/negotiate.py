"""Offer → answer with aiortc, defensively.

aiortc raises many exception types on malformed SDP (ValueError, AssertionError, AttributeError, IndexError, KeyError,
OperationError…; shared/reference/aiortc.md §8), so every step is time-boxed and any exception becomes an
`OfferError` (→ 400). The caller closes the peer connection on every error path.

Before aiortc sees it, an offer must pass cheap structural checks: size, one audio section, at most one data section,
nothing else. An offer without any ICE candidate (the OpenAI Agents SDK posts the SDP straight from createOffer())
is accepted as OpenAI's service accepts it: the client's address is learnt from its connectivity checks to our
candidates (peer-reflexive candidates; aioice keeps checking while no end-of-candidates was signalled, so a stray
`a=end-of-candidates` is dropped from such an offer). An offer whose candidates are all unreachable is refused.
Our audio transceiver is created before `setRemoteDescription`, with Opus as the only codec: the
media path decodes and encodes Opus itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any

from aiortc import RTCPeerConnection, RTCRtpSender, RTCRtpTransceiver, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from loguru import logger

from web.media.rtc.ice import announce_address, strip_unreachable_candidates

MAX_SDP_BYTES = 64 * 1024
STEP_TIMEOUT_S = 5.0
GATHER_TIMEOUT_S = 12.0  # STUN/TURN gathering waits up to 5 s per server in aioice
_MLINE = re.compile(r"^m=(\w+) ", re.MULTILINE)


class OfferError(Exception):
    """The offer cannot be used; `str(exc)` is a short English reason safe to show the client."""


def check_offer(sdp: str) -> str:
    """Structural checks; returns the SDP with CRLF line endings (what aiortc's parser expects)."""
    if len(sdp.encode("utf-8", "replace")) > MAX_SDP_BYTES:
        raise OfferError(f"the offer is larger than {MAX_SDP_BYTES // 1024} KiB")
    if "\x00" in sdp:
        raise OfferError("the offer contains NUL bytes")
    lines = [ln.rstrip("\r") for ln in sdp.strip().split("\n")]
    if not lines or lines[0] != "v=0":
        raise OfferError("the offer is not SDP (it must start with v=0)")
    kinds = _MLINE.findall("\n".join(lines))
    if kinds.count("audio") != 1:
        raise OfferError("the offer must contain exactly one audio section")
    if kinds.count("application") > 1 or len(kinds) != kinds.count("audio") + kinds.count("application"):
        raise OfferError("only one audio section and one data channel section are supported")
    if not any(ln.startswith("a=candidate:") for ln in lines):
        lines = [ln for ln in lines if ln != "a=end-of-candidates"]  # learn the address from the client's checks
    _check_sections(lines)
    for line in lines:
        if line.startswith("a=candidate:"):
            _check_candidate(line)
    if not any(ln.startswith("a=fingerprint:") for ln in lines):
        raise OfferError("the offer has no DTLS fingerprint (a=fingerprint)")
    return "\r\n".join(lines) + "\r\n"


def _check_sections(lines: list[str]) -> None:
    """Every section names its mid once, and BUNDLE only names mids that exist. aiortc accepts offers that break
    this and then fails inside `close()` (leaving sockets open), so they are refused here."""
    sections: list[list[str]] = []
    for line in lines:
        if line.startswith("m="):
            sections.append([])
        elif sections and line.startswith("a=mid:"):
            sections[-1].append(line[6:].strip())
    if any(len(found) != 1 for found in sections):
        raise OfferError("every media section needs exactly one a=mid")
    mids = [found[0] for found in sections]
    if not all(mids) or len(set(mids)) != len(mids):
        raise OfferError("every media section needs its own a=mid")
    for line in lines:
        if line.startswith("a=group:BUNDLE"):
            named = line.split()[1:]
            if not named or any(mid not in mids for mid in named):
                raise OfferError("a=group:BUNDLE names a section that does not exist")


def _check_candidate(line: str) -> None:
    # a=candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> [...]
    fields = line[len("a=candidate:") :].split()
    try:
        ok = (
            len(fields) >= 8
            and 1 <= int(fields[1]) <= 256
            and fields[2].lower() in ("udp", "tcp")
            and 0 <= int(fields[3]) < 2**32
            and 0 <= int(fields[5]) <= 65535
            and fields[6] == "typ"
            and fields[7] in ("host", "srflx", "prflx", "relay")
        )
    except ValueError:
        ok = False
    if not ok:
        raise OfferError("the offer has a malformed a=candidate line")


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def apply_offer(pc: RTCPeerConnection, sdp: str, track: MediaStreamTrack) -> RTCRtpTransceiver:
    """Create our Opus-only audio transceiver and apply the remote offer; returns the audio transceiver."""
    checked = check_offer(sdp)
    sdp = strip_unreachable_candidates(checked)
    had_candidates = "\r\na=candidate:" in checked
    if had_candidates and not any(ln.startswith("a=candidate:") for ln in sdp.split("\r\n")):
        raise OfferError("none of the offer's ICE candidates is reachable from this server")
    try:
        transceiver = pc.addTransceiver(track, direction="sendrecv")
        capabilities = RTCRtpSender.getCapabilities("audio")
        opus = [c for c in (capabilities.codecs if capabilities else []) if c.mimeType.lower() == "audio/opus"]
        transceiver.setCodecPreferences(opus)
        async with asyncio.timeout(STEP_TIMEOUT_S):
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
    except TimeoutError as exc:
        raise OfferError("the offer took too long to process") from exc
    except Exception as exc:  # noqa: BLE001 - aiortc's parser raises anything; all of it means "bad offer"
        no_codec = "description send parameters" in str(exc)
        message = "the offer does not share a codec with us (Opus is required)" if no_codec else ""
        raise OfferError(message or f"the offer could not be parsed ({_describe(exc)})") from exc
    if transceiver.mid is None:
        raise OfferError("the offer's audio section could not be matched")
    return transceiver


async def close_peer_connection(pc: RTCPeerConnection, timeout: float = 3.0) -> None:
    """`pc.close()`, and if aiortc fails half-way (it can, on odd offers), stop the ICE transports by hand so no
    UDP socket outlives the call."""
    try:
        async with asyncio.timeout(timeout):
            await pc.close()
        return
    except Exception as exc:  # noqa: BLE001 - whatever broke, the sockets must still be released
        logger.warning("peer connection close failed; stopping its transports directly: {}", _describe(exc))
    transports: list[Any] = []
    for transceiver in pc.getTransceivers():
        transports.append(transceiver.receiver.transport)
    if pc.sctp is not None:
        transports.append(pc.sctp.transport)
    for dtls in transports:
        if dtls is None:
            continue
        for stop in (dtls.stop, dtls.transport.stop):
            with contextlib.suppress(Exception):
                async with asyncio.timeout(timeout):
                    await stop()


async def create_answer(pc: RTCPeerConnection, announced_address: str) -> str:
    """Create and apply the answer (this gathers our ICE candidates); returns the answer SDP to send back."""
    try:
        async with asyncio.timeout(GATHER_TIMEOUT_S):
            answer = await pc.createAnswer()
            await pc.setLocalDescription(answer)
    except TimeoutError as exc:
        raise OfferError("gathering our ICE candidates took too long") from exc
    except Exception as exc:  # noqa: BLE001 - see apply_offer
        raise OfferError(f"no answer could be created for this offer ({_describe(exc)})") from exc
    local = pc.localDescription
    if local is None:
        raise OfferError("no answer could be created for this offer")
    return announce_address(local.sdp, announced_address)
