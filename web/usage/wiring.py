"""Connects the recorder to the call registry: metering every new session, and ending a live call with a notice."""

from __future__ import annotations

from typing import Any

from web.media.calls import CallRegistry
from web.monitor.monitoring import Monitoring
from web.usage.recorder import UsageRecorder
from web.usage.tokens import KINDS


async def end_live_call(calls: CallRegistry, call_id: str, reason: str, note: dict[str, Any]) -> bool:
    """End one live call of this process (any transport), sending `note` as its last event; False if not found."""
    for call in calls.live_calls():
        if call.id == call_id:
            await call.close(reason, note)
            return True
    return False


def wire_usage(recorder: UsageRecorder, calls: CallRegistry, monitoring: Monitoring) -> None:
    calls.on_new_session = recorder.session_made

    async def end(call_id: str, reason: str, note: dict[str, Any]) -> bool:
        return await end_live_call(calls, call_id, reason, note)

    recorder.end_call = end
    monitoring.register_gauge("usage_tokens_total", "Upstream tokens of finished conversations, by kind.",
                              lambda: {kind: recorder.metric("tokens_" + kind) for kind in KINDS},
                              labels=("kind",), kind="counter")
    monitoring.register_gauge("usage_audio_seconds_total", "Audio seconds of finished conversations, by direction.",
                              lambda: {"in": recorder.metric("audio_in_s"), "out": recorder.metric("audio_out_s")},
                              labels=("direction",), kind="counter")
    monitoring.register_gauge("usage_conversations_total", "Conversations finished and metered.",
                              lambda: recorder.metric("conversations"), kind="counter")
    monitoring.register_gauge("usage_records_dropped_total", "Conversation records that could not be written.",
                              lambda: recorder.metric("records_dropped"), kind="counter")
