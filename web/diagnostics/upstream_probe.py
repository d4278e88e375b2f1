"""The diagnostics' live handshake with the AI service: connect, wait for `session.created`, then ask one question
(`session.update`) and wait for any answer. An upstream that accepts the connection but then never answers fails
here, within the page's wait, instead of only in the middle of a call (the relay's own stall detection is slower).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from web.media.realtime import UpstreamError, resolve_upstream
from web.media.realtime.factory import upstream_factory
from web.settings import Settings

ANSWER_TIMEOUT_S = 3.0
STALLED_OPERATOR = ("The realtime service accepted the connection and sent session.created, but did not answer a "
                    "session.update within {s:g} s: it is overloaded or stuck. Check the deployment's health and "
                    "quota in the Azure portal.")


async def probe(settings: Settings) -> dict[str, Any]:
    """{ok, mode, connect_ms, answer_ms, code, operator_message, user_message}; never raises `UpstreamError`."""
    config = resolve_upstream(settings)
    began = time.monotonic()
    result: dict[str, Any] = {"ok": False, "mode": config.mode, "connect_ms": None, "answer_ms": None, "code": None,
                              "operator_message": None, "user_message": None}
    try:
        upstream = upstream_factory(config)()
        try:
            await upstream.connect()
            result["connect_ms"] = int((time.monotonic() - began) * 1000)
            asked = time.monotonic()
            await upstream.send({"type": "session.update", "session": {"type": "realtime"}})
            try:
                await asyncio.wait_for(upstream.recv(), ANSWER_TIMEOUT_S)
            except TimeoutError:
                result.update(code="stalled", operator_message=STALLED_OPERATOR.format(s=ANSWER_TIMEOUT_S))
                return result
            result["answer_ms"] = int((time.monotonic() - asked) * 1000)
        finally:
            await upstream.close()
    except UpstreamError as exc:
        result.update(code=exc.code, operator_message=exc.operator_message, user_message=exc.user_message)
        return result
    result["ok"] = True
    return result
