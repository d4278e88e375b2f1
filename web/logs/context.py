"""Context variables that tag every log record with the current request (and user, once authenticated).

Set by the pure-ASGI request-context middleware (request id) and the session layer (user id). Pure ASGI middleware
keeps contextvars visible to the endpoint; Starlette's BaseHTTPMiddleware would not.
"""

from __future__ import annotations

from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
user_id_var: ContextVar[str | None] = ContextVar("user_id", default=None)
