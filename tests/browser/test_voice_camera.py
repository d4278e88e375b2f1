"""The voice page's 「拍照提问」 button in headless Chromium with its fake camera, during an echo-mode call: the frame
goes to POST {call}/images (WebRTC) or the socket (WebSocket transport), a thumbnail appears in the transcript, and
echo mode answers with the size."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.test_voice_page import run_scenario


@pytest.mark.parametrize("scenario", ["photo", "photo-ws"])
def test_the_photo_button_sends_a_frame_into_the_call(tmp_path: Path, scenario: str) -> None:
    result = run_scenario(scenario, None, tmp_path)
    context = result.pop("_context")
    # Chromium's fake camera gives the 1280×960 the page asks for; the page shrinks it to 1024 px before sending
    assert "收到图片 1024×768" in result["transcript"], result["transcript"] + context
    assert result["thumbnail"] == [1024, 768], result
    if scenario == "photo":  # WebRTC: posted to the call's photo endpoint
        assert result["photo_posts"] == [[result["call_locations"][0] + "/images?respond=true", 201]], result
    else:  # WebSocket: sent on the call's socket, no HTTP upload
        assert result["photo_posts"] == [] and result["call_locations"] == [], result
    problems = result["problems"]
    assert not problems["console"] and not problems["page"] and not problems["csp"], problems
