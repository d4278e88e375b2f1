"""Who may open a voice call and how long it stays theirs: the routes' auth policy for both transports.

`credential_of` turns what the auth middleware resolved into the call layer's typed handle. `upgrade_problem` is
the WebSocket handshake's policy: a cookie upgrade from another origin is refused (the CSRF middleware covers HTTP
only, and a browser attaches cookies to cross-site WebSocket upgrades), as are the beta protocol, a malformed
`?model=` and subprotocols without `realtime`.
"""

from __future__ import annotations

from typing import Any

from starlette.types import Scope

from web.media.calls import Credential
from web.media.ws.protocol import header, model_is_valid, parse_subprotocols, wants_beta
from web.security.csrf import request_origin


def credential_of(state: Any) -> Credential | None:
    """The credential a request was authenticated with (`request.state` or a WebSocket scope's state)."""
    get = state.get if isinstance(state, dict) else lambda name: getattr(state, name, None)
    handle = get("session_id")
    return Credential.from_handle(handle) if handle else None


def upgrade_problem(scope: Scope, public_origin: str) -> tuple[int, str] | None:
    """(status, code) when the upgrade must be refused for who asks or how; None when it may proceed."""
    state = scope.get("state", {})
    if state.get("user") is None:
        return 401, "session_expired" if state.get("auth_failure") in ("expired", "revoked") else "unauthorized"
    if state.get("auth_method") == "session":
        origin = header(scope, b"origin")
        if origin is None or origin.rstrip("/") != request_origin(scope, public_origin):
            return 403, "origin_not_allowed"
    offer = parse_subprotocols(scope.get("subprotocols") or [])
    if wants_beta(scope, offer):
        return 400, "beta_protocol_not_supported"
    if not offer.acceptable:
        return 400, "subprotocol_not_supported"
    if not model_is_valid(scope):
        return 400, "invalid_model"
    return None
