"""Route the standard `logging` module (uvicorn, aiortc, aioice, asyncio, …) into loguru."""

from __future__ import annotations

import inspect
import logging
import sys

from loguru import logger

# Loggers that libraries configure with their own handlers; we strip those so records reach the root handler once.
ROUTED_LOGGERS = (
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "uvicorn.asgi",
    "aiortc",
    "aioice",
    "asyncio",
    "httpx",
    "httpcore",
    "websockets",
)

# uvicorn's access line carries the raw query string (tokens!) and duplicates the request-context middleware's
# access record. With no handler and no propagation, uvicorn sees `hasHandlers() == False` and skips it entirely.
SILENCED_LOGGERS = frozenset({"uvicorn.access"})


class InterceptHandler(logging.Handler):
    """Forward each stdlib record to loguru with the caller's frame, level, exception and logger name."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        # Walk past the logging module's own frames so loguru reports the real call site.
        frame, depth = inspect.currentframe(), 0
        while frame is not None and (depth == 0 or frame.f_code.co_filename == logging.__file__):
            frame = frame.f_back
            depth += 1
        try:
            message = record.getMessage()
        except Exception:  # a bad %-format in a library must not kill the caller
            message = str(record.msg)
        if record.name.startswith("uvicorn") and message.startswith("ASGI callable returned without"):
            # uvicorn reports every refused WebSocket upgrade (401/403/429 sent as an HTTP response) as an error
            # (uvicorn PR #3138); the refusal itself is logged by the app, so this is noise, not a fault.
            level = "DEBUG"
        logger.bind(logger=record.name).opt(depth=depth, exception=record.exc_info).log(level, message)


def _is_blocking_console_handler(handler: logging.Handler) -> bool:
    # A plain StreamHandler on stdout/stderr (e.g. from a stray logging.basicConfig()) writes synchronously on the
    # caller's thread: exactly what the pipeline exists to avoid. Subclasses (pytest's capture handler writes to a
    # StringIO) and other handler types are left alone.
    stream = getattr(handler, "stream", None)
    std = {sys.stderr, sys.stdout, sys.__stderr__, sys.__stdout__}
    return type(handler) is logging.StreamHandler and stream in std


def install_intercept(level: int) -> InterceptHandler:
    """Put InterceptHandler on the root logger (replacing an earlier one and blocking console handlers) and let
    library loggers propagate to it."""
    handler = InterceptHandler(level=logging.NOTSET)
    root = logging.getLogger()
    for old in list(root.handlers):
        if isinstance(old, InterceptHandler) or _is_blocking_console_handler(old):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ROUTED_LOGGERS:
        lib_logger = logging.getLogger(name)
        lib_logger.handlers = []
        lib_logger.propagate = name not in SILENCED_LOGGERS
        if name.startswith(("aioice", "aiortc", "httpx", "httpcore", "websockets")):
            # These are chatty at INFO (every request / ICE check); keep them at WARNING unless debugging.
            lib_logger.setLevel(max(level, logging.WARNING))
        else:
            lib_logger.setLevel(logging.NOTSET)
    return handler
