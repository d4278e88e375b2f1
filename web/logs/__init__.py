"""Non-blocking, redacting loguru setup: `setup_logging(settings) -> LogPipeline` (see pipeline.py for the design)."""

from __future__ import annotations

from web.logs.context import request_id_var, user_id_var
from web.logs.intercept import InterceptHandler
from web.logs.pipeline import LogPipeline, LogStats, Writer
from web.logs.redact import REDACTED, redact_text, redact_value
from web.logs.setup import current_pipeline, recent_records, setup_logging

__all__ = [
    "REDACTED",
    "InterceptHandler",
    "LogPipeline",
    "LogStats",
    "Writer",
    "current_pipeline",
    "recent_records",
    "redact_text",
    "redact_value",
    "request_id_var",
    "setup_logging",
    "user_id_var",
]
