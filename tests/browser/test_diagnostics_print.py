"""The printable report, rendered to PDF by Chromium: A4, at most two pages, the report ID and every check row in
it, no buttons. The PDF's text is read back with a small extractor for what Chromium's Skia writer emits (Type0
fonts with ToUnicode maps), so the test needs no PDF library."""

from __future__ import annotations

import json
import re
import unicodedata
import zlib
from pathlib import Path

from playwright.async_api import Browser, expect

from tests.browser.test_diagnostics_page import fake_mic_browser, open_page, serve  # noqa: F401  (fixture)
from web.diagnostics.catalog import PAGE_CHECKS
from web.i18n import translate

_OBJ = re.compile(rb"(\d+) 0 obj(.*?)endobj", re.S)
_OPS = re.compile(rb"/([A-Za-z0-9_.+-]+)\s+[\d.]+\s+Tf|<([0-9A-Fa-f]*)>\s*Tj|\[(.*?)\]\s*TJ|\bET\b", re.S)


def _objects(pdf: bytes) -> dict[int, tuple[bytes, bytes | None]]:
    objects: dict[int, tuple[bytes, bytes | None]] = {}
    for match in _OBJ.finditer(pdf):
        body = match.group(2)
        head, stream = body, None
        if b"stream" in body:
            head, _, rest = body.partition(b"stream")
            rest = rest[rest.index(b"\n") + 1:rest.rindex(b"endstream")]
            stream = zlib.decompress(rest) if b"/FlateDecode" in head else rest
        objects[int(match.group(1))] = (head, stream)
    return objects


def _cmap(data: bytes) -> dict[int, str]:
    mapping: dict[int, str] = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", data, re.S):
        for src, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            mapping[int(src, 16)] = bytes.fromhex(dst.decode()).decode("utf-16-be")
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", data, re.S):
        for lo, hi, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            start = int(dst, 16)
            for offset, code in enumerate(range(int(lo, 16), int(hi, 16) + 1)):
                mapping[code] = chr(start + offset)
    return mapping


def pdf_pages_text(pdf: bytes) -> list[str]:
    objects = _objects(pdf)
    unicode_maps = {}
    for number, (head, _stream) in objects.items():
        ref = re.search(rb"/ToUnicode (\d+) 0 R", head)
        if b"/Type /Font" in head and ref:
            unicode_maps[number] = _cmap(objects[int(ref.group(1))][1] or b"")
    pages = []
    for head, _stream in objects.values():
        if not re.search(rb"/Type /Page\b(?!s)", head):
            continue
        fonts = {name.decode(): unicode_maps.get(int(num), {})
                 for name, num in re.findall(rb"/([A-Za-z0-9_.+-]+) (\d+) 0 R", head.split(b"/Font", 1)[-1])}
        text: list[str] = []
        current: dict[int, str] = {}
        for ref in re.findall(rb"/Contents (\d+) 0 R", head):
            for op in _OPS.finditer(objects[int(ref)][1] or b""):
                if op.group(1):
                    current = fonts.get(op.group(1).decode(), {})
                elif op.group(0) == b"ET":
                    text.append("\n")
                else:
                    hexes = [op.group(2)] if op.group(2) is not None else re.findall(rb"<([0-9A-Fa-f]*)>", op.group(3))
                    for h in hexes:
                        codes = bytes.fromhex(h.decode())
                        text.extend(current.get(int.from_bytes(codes[i:i + 2], "big"), "?")
                                    for i in range(0, len(codes) - 1, 2))
        pages.append(unicodedata.normalize("NFKC", "".join(text)))  # NFKC: the "ﬀ" ligature glyph back to "ff"
    return pages


POST_CHECKS = """async (checks) => {
  const token = document.querySelector("meta[name='csrf-token']").content;
  const response = await fetch("/diagnostics/reports", {method: "POST", headers: {"X-CSRF-Token": token}});
  const created = await response.json();
  for (const [check, values] of checks) {
    await fetch("/diagnostics/checks/" + check, {method: "POST",
      headers: {"X-CSRF-Token": token, "Content-Type": "application/json"},
      body: JSON.stringify({report_id: created.id, values})});
  }
  return created;
}"""
SAMPLES = [{"rtt_ms": 180 + i * 20, "jitter_ms": 12, "loss_pct": 2, "bitrate_kbps": 90} for i in range(10)]
# A worst case for the page budget: many failures, each with its fix texts.
VALUES = {
    "secure_context": {"secure": True, "origin": "https://voice.example.com"},
    "browser": {"features": {"RTCPeerConnection": True, "getUserMedia": True, "AudioWorklet": False,
                             "WebSocket": True}},
    "server_health": {"status": 200, "latency_ms": 1400},
    "readiness": {"status": 503, "checks": {"database": {"ok": True}, "realtime": {"ok": False}}},
    "mic_permission": {"outcome": "error", "error_name": "NotAllowedError",
                       "error_message": "Permission denied by system"},
    "audio_devices": {"inputs": 0},
    "mic_level": {},
    "speaker": {"answer": "not_heard"},
    "ice": {"measured": True, "counts": {"host": 2}, "servers": [{"url": "stun:stun.example.com:3478", "srflx": 0}]},
    "signalling": {"status": 502, "elapsed_ms": 900, "error_code": "upstream_key_rejected",
                   "error_message": "语音服务认证失败，请联系管理员。"},
    "media_path": {"state": "connected", "connect_ms": 2500, "local_type": "relay", "remote_type": "host",
                   "protocol": "udp", "relay_protocol": "tcp"},
    "echo": {"mode": "echo", "heard": False},
    **{check: {"samples": SAMPLES} for check in ("rtt", "jitter", "packet_loss", "bitrate", "mos")},
}


async def test_printed_report_holds_the_id_and_every_row_on_at_most_two_a4_pages(
        fake_mic_browser: Browser, tmp_path: Path) -> None:  # noqa: F811  (the imported fixture)
    async with serve(tmp_path) as (base_url, _app):
        context, page, problems = await open_page(fake_mic_browser, base_url)
        checks = [[spec.id, VALUES.get(spec.id, {})] for spec in PAGE_CHECKS]
        created = await page.evaluate(POST_CHECKS, checks)
        await page.goto(created["url"])
        await expect(page.get_by_test_id("report-id")).to_have_text(created["display_id"])
        rows = page.locator("[data-testid^='report-row-']")
        await expect(rows).to_have_count(len(PAGE_CHECKS))
        pdf = await page.pdf(format="A4", print_background=True)
        (tmp_path / "report.pdf").write_bytes(pdf)
        pages = pdf_pages_text(pdf)
        assert 1 <= len(pages) <= 2, f"{len(pages)} pages"
        text = re.sub(r"\s+", "", "".join(pages))
        assert created["display_id"] in text
        assert created["display_id"] in re.sub(r"\s+", "", pages[-1]), "the ID is repeated on every page"
        titles = {spec.id: re.sub(r"\s+", "", unicodedata.normalize("NFKC", translate(spec.title, "zh-CN")))
                  for spec in PAGE_CHECKS}
        missing = [check for check, title in titles.items() if title not in text]
        assert not missing, (missing, text[:2000])
        for button in ("打印", "复制文本", "下载JSON"):
            assert button not in text, button
        assert "麦克风被禁止" in text  # a fix text made it to paper
        await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
        await page.get_by_role("button", name="复制文本").click()
        await expect(page.locator("#report-copy-status")).to_have_text("已复制")
        copied = await page.evaluate("navigator.clipboard.readText()")
        assert copied.startswith("智能眼镜语音 — 诊断报告 " + created["display_id"]) and "(mic_permission)" in copied
        report = json.loads(await (await page.request.get(created["url"] + ".json")).text())
        assert [c["check"] for c in report["checks"]] == [spec.id for spec in PAGE_CHECKS]
        await problems.flush(page)
        problems.assert_clean()
        await context.close()
