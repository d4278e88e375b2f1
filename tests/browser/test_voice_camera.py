"""The voice page's 「拍照提问」 button in headless Chromium with its fake camera, during an echo-mode WebRTC call:
the frame goes to POST {call}/images, a thumbnail appears in the transcript, and echo mode answers with the size."""

from __future__ import annotations

from pathlib import Path

from tests.browser.test_voice_page import run_scenario


def test_the_photo_button_sends_a_frame_into_the_call(tmp_path: Path) -> None:
    result = run_scenario("photo", None, tmp_path)
    context = result.pop("_context")
    # Chromium's fake camera gives the 1280×960 the page asks for; the page shrinks it to 1024 px before sending
    assert "收到图片 1024×768" in result["transcript"], result["transcript"] + context
    assert result["thumbnail"] == [1024, 768], result
    assert result["photo_posts"] == [[result["call_locations"][0] + "/images?respond=true", 201]], result
    problems = result["problems"]
    assert not problems["console"] and not problems["page"] and not problems["csp"], problems
