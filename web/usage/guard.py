"""`QuotaGuard`: a running call that is about to use up its budget is warned, then ended with the reason.

One small task per call, ticking once a second: it reads the meter's figures (no I/O on the audio path). Minutes
are warned `warning_s` before the end; tokens when, at the call's own rate so far, they would run out within it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from loguru import logger

from web.i18n import DEFAULT_LOCALE, N_, translate
from web.media.realtime import error_event
from web.usage.meter import ConversationMeter
from web.usage.quotas import Budget

WARNING = N_("Your voice usage limit will be reached in about a minute; the call will then end.")
ENDED = N_("The call was ended because your voice usage limit was reached. Ask your administrator if you need more.")
TICK_S = 0.25


def bilingual(msgid: str) -> str:
    """The predecessor's style for messages sent outside a request: zh-CN first, English in brackets."""
    return f"{translate(msgid, DEFAULT_LOCALE)} ({msgid})"


def quota_event(msgid: str, code: str, error_type: str) -> dict[str, Any]:
    return error_event(bilingual(msgid), code=code, error_type=error_type)


class QuotaGuard:
    def __init__(self, meter: ConversationMeter, budget: Budget, *, warning_s: float,
                 notify: Callable[[dict[str, Any]], None],
                 end: Callable[[str, dict[str, Any]], Awaitable[None]]) -> None:
        self.meter = meter
        self.budget = budget
        self.warning_s = warning_s
        self.warned = False
        self.ended = False
        self._notify = notify
        self._end = end

    def seconds_left(self) -> float | None:
        """Seconds until a limit, from the minutes left and the token rate so far; None without limits."""
        meter, budget = self.meter, self.budget
        candidates: list[float] = []
        if budget.seconds is not None:
            candidates.append(budget.seconds - meter.duration_s)
        if budget.tokens is not None:
            left = budget.tokens - meter.tokens.total
            rate = meter.tokens.total / meter.duration_s if meter.duration_s > 0 else 0.0
            candidates.append(-1.0 if left <= 0 else (left / rate if rate > 0 else float("inf")))
        return min(candidates) if candidates else None

    async def run(self) -> None:
        if self.budget.seconds is None and self.budget.tokens is None:
            return
        while self.meter.ended_at is None:
            left = self.seconds_left()
            if left is not None and left <= 0:
                self.ended = True
                logger.info("call ended at its quota", call_id=self.meter.call_id, user_id=self.meter.user_id)
                await self._end("quota_exceeded", quota_event(ENDED, "quota_exceeded", "server_error"))
                return
            if left is not None and left <= self.warning_s and not self.warned:
                self.warned = True
                self._notify(quota_event(WARNING, "quota_warning", "gateway_notice"))
            await asyncio.sleep(TICK_S)
