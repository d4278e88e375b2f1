"""The voice panel as the server renders it, and the page's JavaScript budget."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import httpx

from tests.support.auth import login

STATIC = Path(__file__).resolve().parents[1] / "web" / "static"


async def test_home_page_has_the_voice_panel_with_translated_texts(client: httpx.AsyncClient) -> None:
    await login(client)
    page = (await client.get("/")).text
    assert 'id="voice-panel"' in page
    assert re.search(r'<button[^>]*id="voice-start"[^>]*>开始录音</button>', page)
    assert re.search(r'<button[^>]*id="voice-stop"[^>]*disabled>停止</button>', page)
    for text in ("连接中", "已连接", "网络连接出现问题，正在尝试重新连接...", "连接超时，请检查网络连接",
                 "请先登录后再使用语音功能", "认证失败，请重新登录"):
        assert text in page, text
    assert 'data-mode="echo"' in page
    assert '<script type="module" src="/static/voice.js' in page
    assert "<canvas" in page and "<audio" in page


async def test_english_page_gets_english_texts(client: httpx.AsyncClient) -> None:
    await login(client)
    page = (await client.get("/", headers={"Accept-Language": "en"})).text
    assert ">Start recording</button>" in page and "Network problem, trying to reconnect..." in page


def test_voice_script_carries_no_user_facing_text_and_fits_the_budget() -> None:
    script = (STATIC / "voice.js").read_text(encoding="utf-8")
    assert not re.search(r"[\u4e00-\u9fff]", script)  # every sentence comes from the template (translated there)
    page_js = [STATIC / "voice.js", STATIC / "app.js", *sorted(STATIC.glob("htmx-*.min.js"))[-1:]]
    total = len(gzip.compress(b"".join(p.read_bytes() for p in page_js), 9))
    assert total <= 40 * 1024, total
