"""Item 7: report-ID guesses are rate-limited, an offer without a DTLS fingerprint is refused with 400, and a log
record cut to its size limit keeps the end of a traceback (the exception type)."""

from __future__ import annotations

import httpx
from loguru import logger

from tests.media_fixtures.helpers import SignedIn
from tests.media_fixtures.rtc_client import RtcClient
from tests.test_logging_redaction import Setup, _flush
from web.diagnostics.access import GUESS_LIMIT
from web.logs.redact import MAX_STRING, redact_text
from web.media.calls import CallRegistry

pytest_plugins = ("tests.media_fixtures.fixtures", "tests.test_logging_redaction")


async def test_report_id_guesses_are_rate_limited(client: httpx.AsyncClient) -> None:
    statuses = [(await client.get(f"/diagnostics/reports/{i:08d}.json")).status_code for i in range(GUESS_LIMIT + 3)]
    assert statuses[:GUESS_LIMIT] == [404] * GUESS_LIMIT and statuses[GUESS_LIMIT:] == [429] * 3, statuses
    refused = await client.get("/diagnostics/reports/00000001")
    assert refused.status_code == 429 and refused.json()["error"]["message"]


async def test_an_offer_without_a_dtls_fingerprint_is_refused(signed_in: SignedIn, registry: CallRegistry) -> None:
    http, token = signed_in
    offer = await RtcClient().offer_sdp()
    stripped = "".join(line + "\r\n" for line in offer.split("\r\n") if line and not line.startswith("a=fingerprint:"))
    response = await http.post("/v1/realtime/calls", content=stripped.encode(),
                               headers={"Content-Type": "application/sdp", "X-CSRF-Token": token})
    assert response.status_code == 400, response.text[:300]
    assert "fingerprint" in response.json()["error"]["detail"]
    assert registry.active_count() == 0


def test_a_cut_traceback_keeps_its_exception_type() -> None:
    traceback = "Traceback (most recent call last):\n" + "  File \"x.py\", line 1, in f\n" * 500 + \
        "ZeroDivisionError: division by zero"
    cut = redact_text(traceback)
    assert len(cut) < MAX_STRING + 50 and "[truncated]" in cut
    assert cut.endswith("ZeroDivisionError: division by zero") and cut.startswith("Traceback")


def test_a_long_logged_exception_keeps_its_type_in_the_record(logs: Setup) -> None:
    pipeline, lines = logs()
    try:
        raise KeyError("k" * 10_000)
    except KeyError:
        logger.exception("failed")
    output = _flush(pipeline, lines)
    assert "KeyError" in output.split("[truncated]")[-1], output[-300:]
