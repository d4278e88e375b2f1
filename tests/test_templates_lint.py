"""Templates stay CSP-clean: no inline scripts, handlers or styles, and no htmx features that need eval."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TEMPLATES = sorted((Path(__file__).resolve().parents[1] / "web" / "templates").rglob("*.html"))
FORBIDDEN = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I),
    "inline handler": re.compile(r"\son[a-z]+\s*=", re.I),
    "inline style": re.compile(r"\sstyle\s*=", re.I),
    "style element": re.compile(r"<style", re.I),
    "hx-on": re.compile(r"hx-on", re.I),
    "trigger filter": re.compile(r'hx-trigger="[^"]*\['),
    "js: value": re.compile(r'hx-[a-z]+=["\']js:', re.I),
    "external url": re.compile(r'(src|href)="https?://', re.I),
}


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(p.parents[1])))
def test_template_is_csp_clean(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    problems = [name for name, pattern in FORBIDDEN.items() if pattern.search(text)]
    assert not problems, problems


def test_htmx_config_disables_history_cache_and_eval() -> None:
    base = (Path(__file__).resolve().parents[1] / "web" / "templates" / "base.html").read_text(encoding="utf-8")
    assert '"historyCacheSize": 0' in base and '"allowEval": false' in base and '"selfRequestsOnly": true' in base
    assert "inlineScriptNonce" not in base
