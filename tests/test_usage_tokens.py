"""Token usage read from the upstream's usage blocks, and its estimated cost."""

from __future__ import annotations

import pytest

from tests.conftest import make_settings
from tests.fake_realtime import FakeOptions
from tests.fake_realtime.reply import realistic_usage
from web.usage.meter import base64_payload_bytes
from web.usage.tokens import PriceTable, TokenCounts, from_response_usage, from_transcription_usage

FULL = {
    "total_tokens": 1000, "input_tokens": 700, "output_tokens": 300,
    "input_token_details": {"text_tokens": 200, "audio_tokens": 400, "image_tokens": 100, "cached_tokens": 250,
                            "cached_tokens_details": {"text_tokens": 100, "audio_tokens": 120, "image_tokens": 30}},
    "output_token_details": {"text_tokens": 50, "audio_tokens": 250},
}


def test_every_kind_is_read_and_cached_stays_inside_input() -> None:
    c = from_response_usage(FULL)
    assert (c.input_text, c.input_audio, c.input_image) == (200, 400, 100)
    assert (c.cached_text, c.cached_audio, c.cached_image) == (100, 120, 30)
    assert (c.output_text, c.output_audio) == (50, 250)
    assert c.total == 1000  # cached tokens are not counted twice


def test_missing_details_count_as_text_and_garbage_counts_nothing() -> None:
    c = from_response_usage({"input_tokens": 20, "output_tokens": 22, "input_token_details": {"cached_tokens": 5}})
    assert (c.input_text, c.cached_text, c.output_text, c.total) == (20, 5, 22, 42)
    assert from_response_usage(None).total == 0
    assert from_response_usage({"input_tokens": "lots", "output_tokens": -4, "x": True}).total == 0
    assert from_response_usage({"input_tokens": True}).total == 0


def test_transcription_usage_by_tokens_or_duration() -> None:
    tokens = from_transcription_usage({"type": "tokens", "input_tokens": 30, "output_tokens": 8, "total_tokens": 38})
    assert (tokens.transcription_input, tokens.transcription_output, tokens.total) == (30, 8, 38)
    duration = from_transcription_usage({"type": "duration", "seconds": 2.5})
    assert duration.transcription_s == 2.5 and duration.total == 0


def test_cost_uses_the_cached_price_for_cached_input(tmp_path: object) -> None:
    prices = PriceTable.from_settings(make_settings(tmp_path))  # type: ignore[arg-type]
    c = from_response_usage(FULL)
    expected = ((100 * 4.0 + 100 * 0.4) + (280 * 32.0 + 120 * 0.4) + (70 * 5.0 + 30 * 0.5)
                + 50 * 16.0 + 250 * 64.0) / 1e6
    assert prices.cost(c) == pytest.approx(expected)
    assert prices.cost(TokenCounts(transcription_s=120)) == pytest.approx(2 * 0.006)


def test_the_fake_upstream_reports_a_consistent_usage_block() -> None:
    usage = realistic_usage(FakeOptions())
    c = from_response_usage(usage)
    assert c.total == usage["total_tokens"] and c.cached_text == 64 and c.output_audio == 600 // 50


def test_base64_length_without_decoding() -> None:
    import base64

    for n in (0, 1, 2, 3, 4, 4800):
        assert base64_payload_bytes(base64.b64encode(b"x" * n).decode()) == n
