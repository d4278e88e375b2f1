"""The wire rules of the Realtime WebSocket endpoint: subprotocols, the model parameter, frame limits, close codes.

Browsers cannot set an `Authorization` header on a WebSocket, so OpenAI's browser client sends the key as a
subprotocol: `Sec-WebSocket-Protocol: realtime, openai-insecure-api-key.<key>`. We accept that form (the key is a
device token, checked like a bearer token) and only ever answer with `realtime`: the key is never echoed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs

from starlette.types import Scope, Send

REALTIME_SUBPROTOCOL = "realtime"
KEY_SUBPROTOCOL_PREFIX = "openai-insecure-api-key."
BETA_SUBPROTOCOL_PREFIX = "openai-beta."

# One client frame. The Realtime API allows appends of up to 15 MiB; a relay that buffers every frame whole needs a
# tighter bound: 2 MiB of base64 is ~32 s of 24 kHz PCM16, far more than any client sends at once. Frames above it
# get an `error` event and the connection stays usable; frames above uvicorn's `ws_max_size` (16 MiB, set in
# web/cli.py) are refused by the server itself with close code 1009.
MAX_FRAME_CHARS = 2 * 1024 * 1024

# The upstream is the operator's choice, never the client's: `?model=` is accepted (the SDK always sends it) and
# checked for shape only.
_MODEL_RE = re.compile(r"[A-Za-z0-9._:\-]{1,100}")

CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008
CLOSE_INTERNAL = 1011
CLOSE_RESTART = 1012
CLOSE_TRY_LATER = 1013
CLOSE_REVOKED = 4001  # application range: the credential was revoked, expired or its user disabled


@dataclass(frozen=True)
class SubprotocolOffer:
    offered: tuple[str, ...]
    key: str | None  # the secret from `openai-insecure-api-key.<key>`, if any
    beta: bool  # the client asked for the retired beta protocol

    @property
    def accept(self) -> str | None:
        """The subprotocol to answer with: `realtime` when offered (a browser fails the connection if it offered
        subprotocols and none comes back), else none."""
        return REALTIME_SUBPROTOCOL if REALTIME_SUBPROTOCOL in self.offered else None

    @property
    def acceptable(self) -> bool:
        """Offering subprotocols without `realtime` leaves nothing we could answer without echoing a secret."""
        return not self.offered or REALTIME_SUBPROTOCOL in self.offered


def parse_subprotocols(offered: list[str] | tuple[str, ...]) -> SubprotocolOffer:
    names = tuple(str(p).strip() for p in offered if str(p).strip())
    key = next((p[len(KEY_SUBPROTOCOL_PREFIX):] for p in names if p.startswith(KEY_SUBPROTOCOL_PREFIX)), None)
    beta = any(p.startswith(BETA_SUBPROTOCOL_PREFIX) for p in names)
    return SubprotocolOffer(offered=names, key=key or None, beta=beta)


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def model_is_valid(scope: Scope) -> bool:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    values = query.get("model", [])
    return all(_MODEL_RE.fullmatch(v) for v in values) and len(values) <= 1


def wants_beta(scope: Scope, offer: SubprotocolOffer) -> bool:
    """The deprecated beta client sends `OpenAI-Beta: realtime=v1` (or the beta subprotocol); we speak GA only."""
    beta_header = (header(scope, b"openai-beta") or "").lower()
    return offer.beta or "realtime" in beta_header


def close_code_for(reason: str) -> int:
    """The close code that tells a client why we ended its call."""
    if reason in ("session_revoked", "user_closed", "credential_inactive"):
        return CLOSE_REVOKED
    if reason == "shutdown":
        return CLOSE_RESTART
    if reason in ("upstream_throttled", "upstream_timeout"):
        return CLOSE_TRY_LATER
    if reason.startswith("upstream_") or reason in ("internal_error", "start_failed"):
        return CLOSE_INTERNAL
    return CLOSE_NORMAL


async def reject_websocket(scope: Scope, send: Send, status: int, code: str) -> None:
    """Refuse a WebSocket upgrade with an HTTP status (when the server supports it), never accept-then-close."""
    if "websocket.http.response" in scope.get("extensions", {}):
        await send({"type": "websocket.http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "websocket.http.response.body", "body": f'{{"error": {{"code": "{code}"}}}}'.encode()})
    else:
        await send({"type": "websocket.close", "code": 1008})
