"""`setup_logging()`: configure loguru once per process with the non-blocking pipeline."""

from __future__ import annotations

import contextlib
from typing import Any

from loguru import logger

from web.logs.context import request_id_var, user_id_var
from web.logs.intercept import install_intercept
from web.logs.pipeline import LogPipeline, Writer, stderr_writer
from web.logs.ring import TimeBound
from web.settings import Settings

RING_SIZE = 5000

_current: LogPipeline | None = None


def _exception_only(record: Any) -> str:
    # The sink builds the line itself from record fields; loguru only renders the traceback (with backtrace /
    # diagnose as configured), which arrives as the message string.
    return "{exception}"


def _tag_with_context(record: Any) -> None:
    # Patchers run in the caller's context, so every sink (ours or a test's) sees the request id.
    extra = record["extra"]
    if "request_id" not in extra:
        rid = request_id_var.get()
        if rid is not None:
            extra["request_id"] = rid
    if "user_id" not in extra:
        uid = user_id_var.get()
        if uid is not None:
            extra["user_id"] = uid


def _level_name(raw: str) -> str:
    name = raw.strip().upper() or "INFO"
    try:
        logger.level(name)
    except ValueError as exc:
        raise ValueError(f"LOG_LEVEL must be a log level such as DEBUG, INFO or WARNING, got {raw!r}") from exc
    return name


def setup_logging(settings: Settings, writer: Writer | None = None, *, ring_size: int = RING_SIZE) -> LogPipeline:
    """Install the non-blocking pipeline as loguru's output (instead of its default stderr handler) and route
    stdlib logging into it.

    Call once per process (create_app). Calling again closes the previous pipeline first, so tests that build several
    apps never leave writer threads behind."""
    global _current
    level = _level_name(settings.log_level)
    if _current is not None:
        _current.close(timeout=1.0)
        _current = None
    json_lines = settings.log_json or settings.is_production
    # Variable values in tracebacks (diagnose) can contain secrets; only a developer's own terminal gets them.
    verbose_tracebacks = settings.app_env == "development"
    pipeline = LogPipeline(
        capacity=settings.log_queue_size,
        writer=writer or stderr_writer,
        json_lines=json_lines,
        ring_size=ring_size,
    )
    # Only loguru's default stderr handler (id 0, synchronous) goes; handlers others added on purpose (a test's
    # capture list, for instance) stay.
    with contextlib.suppress(ValueError):
        logger.remove(0)
    logger.configure(patcher=_tag_with_context)
    pipeline.handler_id = logger.add(
        pipeline.sink,
        level=level,
        format=_exception_only,
        colorize=False,
        backtrace=verbose_tracebacks,
        diagnose=verbose_tracebacks,
        enqueue=False,  # see pipeline.py: enqueue=True blocks once its pipe is full
        catch=True,
    )
    install_intercept(logger.level(level).no)  # loguru's numbers match stdlib's (DEBUG 10, INFO 20, …)
    pipeline.start()
    _current = pipeline
    return pipeline


def current_pipeline() -> LogPipeline | None:
    return _current


def recent_records(
    since: TimeBound = None,
    until: TimeBound = None,
    user_id: str | None = None,
    request_id: str | None = None,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """Redacted structured records from the active pipeline's ring (oldest first)."""
    if _current is None:
        return []
    return _current.recent_records(since, until, user_id=user_id, request_id=request_id, limit=limit)
