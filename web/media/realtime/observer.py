"""What a `RealtimeSession` tells an observer (usage metering): every upstream event it relays, and its end.

Calls are synchronous and on the session's reader task, so an observer must be cheap and must not raise; it may
queue work for elsewhere. The session knows nothing of what the observer does with them.
"""

from __future__ import annotations

from typing import Any, Protocol

from .events import Event


class SessionObserver(Protocol):
    def upstream_event(self, event: Event) -> None: ...

    def session_closed(self, session: Any) -> None: ...
