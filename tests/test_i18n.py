"""Every user-visible message has a Chinese translation; negotiation and the language switch work."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from babel.messages.extract import extract_from_dir

from tests.support.auth import csrf_token, login
from web.i18n import _CATALOGS, negotiate

ROOT = Path(__file__).resolve().parents[1]


def _extracted_msgids() -> set[str]:
    method_map = [("web/**.py", "python"), ("web/templates/**.html", "jinja2")]
    options = {"web/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    found: set[str] = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options, keywords={"_": None, "gettext": None, "N_": None, "ngettext": (1, 2)}
    ):
        for msgid in message if isinstance(message, tuple) else (message,):
            if msgid:
                found.add(msgid)
    return found


def test_every_message_has_a_chinese_translation() -> None:
    msgids = _extracted_msgids()
    assert len(msgids) > 40
    missing = sorted(m for m in msgids if m not in _CATALOGS["zh-CN"])
    assert not missing, f"add these to web/locale/zh_CN/LC_MESSAGES/messages.po: {missing}"


def test_the_predecessor_wording_is_kept() -> None:
    zh = _CATALOGS["zh-CN"]
    assert zh["Authentication failed. Please sign in again."] == "认证失败，请重新登录"
    assert zh["Please sign in before using voice features."] == "请先登录后再使用语音功能"


@pytest.mark.parametrize(("header", "cookie", "expected"), [
    ("", None, "zh-CN"), ("en-US,en;q=0.9", None, "en"), ("fr-FR,en;q=0.5,zh;q=0.8", None, "zh-CN"),
    ("zh-TW", None, "zh-CN"), ("de", None, "zh-CN"), ("zh-CN", "en", "en"), ("en", "zh-CN", "zh-CN"),
    ("en;q=garbage", None, "zh-CN"),
])
def test_locale_negotiation(header: str, cookie: str | None, expected: str) -> None:
    assert negotiate(header, cookie) == expected


async def test_accept_language_english_gets_english(client: httpx.AsyncClient) -> None:
    response = await client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert 'lang="en"' in response.text and "Sign in" in response.text and "登录" not in response.text


async def test_the_language_switch_is_remembered(client: httpx.AsyncClient) -> None:
    await login(client)
    token = await csrf_token(client, "/")
    response = await client.post("/lang", data={"lang": "en", "csrf_token": token},
                                 headers={"Referer": "http://testserver/account"})
    assert response.status_code == 303 and response.headers["location"] == "/account"
    page = await client.get("/account")
    assert "Change password" in page.text and 'lang="en"' in page.text
