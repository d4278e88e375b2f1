"""Secrets never reach log output (G3): message text, structured extra, tracebacks; one record = one line."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from loguru import logger

from web.logs import LogPipeline, redact_text, redact_value, setup_logging
from web.settings import Settings

SECRET = "hunter2-XYZ"
Setup = Callable[..., tuple[LogPipeline, list[str]]]


@pytest.fixture
def logs() -> Iterator[Setup]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    pipelines: list[LogPipeline] = []

    def setup(**overrides: Any) -> tuple[LogPipeline, list[str]]:
        lines: list[str] = []
        values: dict[str, Any] = {"app_env": "production", "secret_key": "k" * 40, **overrides}
        pipeline = setup_logging(Settings(**values), writer=lines.append)
        pipelines.append(pipeline)
        return pipeline, lines

    yield setup
    for pipeline in pipelines:
        pipeline.close(1.0)
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def _flush(pipeline: LogPipeline, lines: list[str]) -> str:
    assert pipeline.close(5.0)
    return "".join(lines)


@pytest.mark.parametrize(
    "text",
    [
        f"login failed password={SECRET} for user",
        f'{{"email": "a@b.c", "password": "{SECRET}"}}',
        f"{{'password': '{SECRET}', 'x': 1}}",
        f"form: email=a%40b.c&password={SECRET}&csrf_token={SECRET}",
        f"Cookie: session={SECRET}; csrf={SECRET}",
        f"set-cookie: __Host-session={SECRET}; Path=/; HttpOnly",
        f"Authorization: Bearer {SECRET}",
        f"headers={{'authorization': 'Basic {SECRET}'}}",
        f"api-key: {SECRET}",
        f"upstream wss://x.openai.azure.com/openai/v1/realtime?api-key={SECRET}&model=gpt",
        f"v=0\r\na=ice-ufrag:abcd\r\na=ice-pwd:{SECRET}\r\na=fingerprint:sha-256 AA",
        f"token={SECRET}",
        f"client_secret: {SECRET}",
        f'password="{SECRET} with spaces"',
        "key sk-proj-abcdefghijklmnopqrstuvwxyz0123",
        "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ],
)
def test_secret_patterns_in_text_are_masked(text: str) -> None:
    out = redact_text(text)
    assert SECRET not in out
    assert "sk-proj-abcdefghijklmnop" not in out
    assert "dozjgNryP4J3jVmNHl0w5N" not in out
    assert "[REDACTED]" in out


def test_harmless_text_is_untouched() -> None:
    text = "GET /login 200 3.1ms; user betty@123.com signed in; a=ice-ufrag:abcd; tokens_used 12"
    assert redact_text(text) == text


def test_secret_keys_in_structured_values_are_masked_at_any_depth() -> None:
    value = {
        "password": SECRET,
        "Set-Cookie": SECRET,
        "api_key": SECRET,
        "nested": {"Authorization": SECRET, "list": [{"client_secret": SECRET}, f"password={SECRET}"]},
        "safe": "visible",
        "count": 3,
    }
    out = json.dumps(redact_value(value))
    assert SECRET not in out
    assert '"safe": "visible"' in out and '"count": 3' in out


def test_pipeline_output_and_ring_have_no_secrets(logs: Setup) -> None:
    pipeline, lines = logs()
    logger.info("sign-in attempt password={}", SECRET)
    logger.bind(password=SECRET, headers={"cookie": f"sid={SECRET}"}).warning("with extra")
    logging.getLogger("aioice.ice").warning("remote a=ice-pwd:%s", SECRET)
    output = _flush(pipeline, lines)
    assert SECRET not in output
    assert SECRET not in json.dumps(pipeline.recent_records())
    assert output.count("\n") == 3


def test_traceback_locals_never_leak_in_production(logs: Setup) -> None:
    pipeline, lines = logs(app_env="production")

    def handler() -> None:
        password = SECRET  # noqa: F841 - the local that diagnose=True would print
        raise ValueError("bad credentials")

    try:
        handler()
    except ValueError:
        logger.exception("request failed")
    output = _flush(pipeline, lines)
    assert "bad credentials" in output  # the traceback is there…
    assert SECRET not in output  # …but not the local variable's value


def test_exception_message_with_secret_is_redacted(logs: Setup) -> None:
    pipeline, lines = logs()
    try:
        raise RuntimeError(f"upstream said: Authorization: Bearer {SECRET}")
    except RuntimeError:
        logger.exception("relay error")
    assert SECRET not in _flush(pipeline, lines)


def test_newline_in_user_input_stays_one_json_line(logs: Setup) -> None:
    pipeline, lines = logs(log_json=True)
    forged = 'betty\n{"level":"INFO","message":"admin logged in"}\r\nx'
    logger.bind(username=forged).info("login failed for {}", forged)
    output = _flush(pipeline, lines)
    assert output.count("\n") == 1
    record = json.loads(output)
    assert record["message"] == f"login failed for {forged}"
    assert record["extra"]["username"] == forged


def test_newline_in_user_input_stays_one_human_line(logs: Setup) -> None:
    pipeline, lines = logs(app_env="development", log_json=False)
    logger.info("login failed for {}", "betty\nFAKE | INFO | forged line")
    output = _flush(pipeline, lines)
    assert output.count("\n") == 1
    assert "betty\\nFAKE" in output


def test_very_long_values_are_truncated(logs: Setup) -> None:
    pipeline, lines = logs()
    logger.info("x" * 100_000)
    output = _flush(pipeline, lines)
    assert len(output) < 10_000
    assert "[truncated]" in output
