"""Jinja2 templates with gettext, and the one function that decides page or fragment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from web.i18n import LOCALE_NAMES, LOCALES, N_, gettext, ngettext
from web.settings import APP_VERSION

TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

VOICE_MODE_LABELS = {"azure": "Azure OpenAI", "openai": "OpenAI", "echo": N_("Echo mode")}


def _htmx_file() -> str:
    found = sorted(STATIC_DIR.glob("htmx-*.min.js"))
    return found[-1].name if found else "htmx.min.js"


def _context(request: Request) -> dict[str, Any]:
    settings = request.app.state.settings

    def path_for(name: str, /, **params: Any) -> str:
        # Relative paths, so links stay right behind any proxy; static files carry the version for cache busting.
        path = str(request.app.url_path_for(name, **params))
        return f"{path}?v={APP_VERSION}" if name == "static" else path

    return {
        "path_for": path_for,
        "user": getattr(request.state, "user", None),
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "locale": getattr(request.state, "locale", "zh-CN"),
        "locales": LOCALES,
        "locale_names": LOCALE_NAMES,
        "voice_mode": settings.voice_mode,
        "voice_mode_label": gettext(VOICE_MODE_LABELS.get(settings.voice_mode, settings.voice_mode)),
        "app_version": APP_VERSION,
        "htmx_file": _htmx_file(),
    }


def build_templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
    )
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    return Jinja2Templates(env=env, context_processors=[_context])


templates = build_templates()


def render(request: Request, name: str, context: dict[str, Any] | None = None, *, status_code: int = 200,
           headers: dict[str, str] | None = None) -> Response:
    response = templates.TemplateResponse(request, name, context or {}, status_code=status_code, headers=headers)
    response.headers.add_vary_header("HX-Request")
    return response
