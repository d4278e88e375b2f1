"""Checks that events have the shapes the official `openai` SDK types describe (GA and beta), and sane lifecycles.

Used to keep the fake (and the relay's echo upstream and beta translation) honest, as huggingface/speech-to-speech's
`realtime_contract.py` does for its own fake.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Annotated, Any, get_args, get_origin

import pydantic


@cache
def _models(protocol: str) -> dict[str, Any]:
    """event type -> the SDK's pydantic model for it (one model per type; faster than validating the whole union)."""
    if protocol == "beta":
        from openai.types.beta.realtime import RealtimeServerEvent as union
    else:
        from openai.types.realtime import RealtimeServerEvent as union
    inner = get_args(union)[0] if get_origin(union) is Annotated else union
    models: dict[str, Any] = {}
    for model in get_args(inner):
        for literal in get_args(model.model_fields["type"].annotation):
            models[literal] = model
    return models


def check_event(event: dict[str, Any], protocol: str = "ga") -> None:
    """Raise AssertionError when `event` is not a valid server event of `protocol` (ga | beta)."""
    model = _models(protocol).get(str(event.get("type")))
    if model is None:
        raise AssertionError(f"{event.get('type')!r} is not a {protocol} server event type")
    try:
        model.model_validate(event)
    except pydantic.ValidationError as exc:
        problems = exc.errors()[:3]
        raise AssertionError(f"invalid {protocol} {event.get('type')!r}: {problems} in {str(event)[:300]}") from exc


def check_events(events: Iterable[dict[str, Any]], protocol: str = "ga") -> None:
    for event in events:
        check_event(event, protocol)


def check_response_lifecycle(events: list[dict[str, Any]]) -> None:
    """Every response: created before anything else of it, its deltas in between, exactly one response.done last."""
    open_responses: dict[str, str] = {}
    done: set[str] = set()
    for event in events:
        kind = str(event.get("type"))
        if kind == "response.created":
            rid = event["response"]["id"]
            assert rid not in open_responses and rid not in done, f"response {rid} created twice"
            open_responses[rid] = "open"
        elif kind == "response.done":
            rid = event["response"]["id"]
            assert rid in open_responses, f"response.done for unknown response {rid}"
            del open_responses[rid]
            done.add(rid)
        elif kind.startswith("response.") and "response_id" in event:
            rid = event["response_id"]
            assert rid in open_responses, f"{kind} outside its response {rid}"
