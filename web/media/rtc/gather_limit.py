"""A bound on how long our ICE gathering waits for STUN/TURN servers (`RTC_ICE_GATHER_TIMEOUT_S`).

aiortc has no trickle ICE, so the answer is sent only once gathering is complete, and aioice waits up to 5 s for each
STUN/TURN server (`Connection.get_component_candidates(timeout=5)`, shared/reference/aiortc.md §7). One dead entry in
`RTC_ICE_SERVERS` would make every answer 5 s late, past the voice page's 4 s WebSocket fallback. The call reaches
that method only through `gather_candidates()`, with the default timeout; this swaps in the configured bound,
process-wide (like the host-address swap in ice.py). Servers that answer within it are used as before.
"""

from __future__ import annotations

from typing import Any

import aioice.ice

_original = aioice.ice.Connection.get_component_candidates


def limit_gathering(timeout_s: float) -> None:
    """Wait at most `timeout_s` for STUN/TURN answers while gathering (aioice's own default: 5 s)."""

    async def bounded(self: aioice.ice.Connection, component: int, addresses: list[str],
                      timeout: float = 5) -> list[Any]:
        return await _original(self, component=component, addresses=addresses,
                               timeout=min(timeout, timeout_s))  # type: ignore[arg-type]

    aioice.ice.Connection.get_component_candidates = bounded  # type: ignore[method-assign]
