"""Turn a loguru record into a redacted structured entry, then into one JSON line or one human-readable line."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from web.logs.context import request_id_var, user_id_var
from web.logs.redact import redact_mapping, redact_text

Entry = dict[str, Any]

# Extra keys promoted to top-level fields; the rest stay under "extra".
_PROMOTED = ("request_id", "user_id", "logger")


def utc_iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def build_entry(record: Any, exception_text: str = "") -> Entry:
    """A redacted, JSON-safe dict for one record. `record` is loguru's record dict."""
    extra_in: dict[str, Any] = record["extra"]
    extra = {k: v for k, v in extra_in.items() if not k.startswith("_") and k not in _PROMOTED}
    request_id = extra_in.get("request_id") or request_id_var.get()
    user_id = extra_in.get("user_id") or user_id_var.get()
    entry: Entry = {
        "time": utc_iso(record["time"]),
        "level": record["level"].name,
        "message": redact_text(str(record["message"])),
        "request_id": str(request_id) if request_id else None,
        "user_id": str(user_id) if user_id else None,
        "logger": str(extra_in.get("logger") or record["name"]),
        "module": f"{record['name']}:{record['function']}:{record['line']}",
    }
    if extra:
        entry["extra"] = redact_mapping(extra)
    if exception_text:
        entry["exception"] = redact_text(exception_text.rstrip("\n"))
    return entry


def to_json_line(entry: Entry) -> str:
    # json.dumps escapes CR/LF inside values, so user input can never start a forged line.
    return json.dumps(entry, ensure_ascii=False, separators=(",", ":"), default=str) + "\n"


def _one_line(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")


def to_human_line(entry: Entry) -> str:
    """`time | LEVEL | request id | module - message key=value…`, escaped to one line (tracebacks follow)."""
    parts = [
        entry["time"],
        f"{entry['level']:<8}",
        entry["request_id"] or "-",
        f"{entry['module']} - {_one_line(entry['message'])}",
    ]
    line = " | ".join(parts)
    extra = entry.get("extra")
    if entry.get("user_id"):
        line += f" user_id={_one_line(str(entry['user_id']))}"
    if extra:
        line += " " + " ".join(
            f"{k}={_one_line(json.dumps(v, ensure_ascii=False, default=str))}" for k, v in extra.items()
        )
    if entry.get("exception"):
        line += "\n" + entry["exception"]
    return line + "\n"
