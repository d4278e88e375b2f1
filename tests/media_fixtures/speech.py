"""The fake microphone's speech: espeak-ng (Mandarin + English) trimmed and joined by sox, 48 kHz mono 16-bit WAV
with 2 s of trailing silence, so the realtime VAD sees exactly one turn (shared/reference/browser-testing.md §3-4)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ZH = "你好，请介绍一下你自己。"
EN = "Hello, please tell me about yourself."
_TRIM = ["silence", "1", "0.05", "1%", "reverse", "silence", "1", "0.05", "1%", "reverse"]


def tools_missing() -> list[str]:
    return [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]


def make_speech_wav(directory: Path) -> Path:
    """Generate (once per directory) and return the path of the speech WAV."""
    out = directory / "speech.wav"
    if out.is_file():
        return out
    directory.mkdir(parents=True, exist_ok=True)
    parts = []
    for name, voice, text in (("zh", "cmn", ZH), ("en", "en", EN)):
        raw, trimmed = directory / f"{name}.wav", directory / f"{name}_t.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True, capture_output=True, timeout=30)
        subprocess.run(["sox", str(raw), str(trimmed), *_TRIM], check=True, capture_output=True, timeout=30)
        parts.append(str(trimmed))
    subprocess.run(["sox", *parts, "-r", "48000", "-c", "1", "-b", "16", str(out), "pad", "0", "2"],
                   check=True, capture_output=True, timeout=30)
    return out
