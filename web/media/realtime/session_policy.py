"""The operator's session policy: what a client may change and what it may see.

- The operator's instructions (REALTIME_INSTRUCTIONS) always lead; a client's instructions (session or response) are
  appended after them, never replace them, and the operator's text is never shown to the client.
- A voice the operator locked (REALTIME_VOICE_LOCKED) cannot be changed by the client.
- The model is the relay's choice (the sanitiser never forwards it).
"""

from __future__ import annotations

import copy

from .events import Event

SEPARATOR = "\n\n"


def combined_instructions(operator: str, client: str | None) -> str:
    """The instructions the upstream gets: the operator's first, then the client's."""
    parts = [text for text in (operator, client) if text]
    return SEPARATOR.join(parts)


def upstream_event(event: Event, *, operator_instructions: str, voice_locked: bool,
                   client_instructions: str | None) -> Event:
    """A sanitised client event as the upstream receives it under the policy (returns a new event)."""
    kind = event.get("type")
    if kind == "session.update":
        session = copy.deepcopy(event["session"])
        if "instructions" in session:
            session["instructions"] = combined_instructions(operator_instructions, session["instructions"])
        if voice_locked:
            output = (session.get("audio") or {}).get("output")
            if isinstance(output, dict):
                output.pop("voice", None)
        return {**event, "session": session}
    if kind == "response.create" and isinstance(event.get("response"), dict):
        response = copy.deepcopy(event["response"])
        if "instructions" in response:
            own = response["instructions"] if isinstance(response["instructions"], str) else None
            response["instructions"] = combined_instructions(operator_instructions, own or client_instructions)
        if voice_locked:
            response.pop("audio", None)
        return {**event, "response": response}
    return event


def client_view(event: Event, *, client_instructions: str | None) -> Event:
    """`session.created`/`session.updated` as the client sees them: its own instructions only."""
    session = event.get("session")
    if event.get("type") not in ("session.created", "session.updated") or not isinstance(session, dict):
        return event
    return {**event, "session": {**session, "instructions": client_instructions or ""}}
