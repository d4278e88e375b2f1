"""Pages for signed-in users, the language switch and the status badges fragment."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from web.auth.guards import login_required
from web.i18n import LANG_COOKIE, LOCALES
from web.routes.auth import safe_next
from web.security.cookies import set_cookie_header
from web.templating import render


@login_required
async def home(request: Request) -> Response:
    return render(request, "pages/home.html")


async def set_language(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=5, max_part_size=256)
    lang = str(form.get("lang", ""))
    referer_path = request.headers.get("referer", "/")
    origin = f"{request.url.scheme}://{request.url.netloc}"
    next_url = safe_next(referer_path.removeprefix(origin)) if referer_path.startswith(origin) else "/"
    response = RedirectResponse(next_url, status_code=303)
    if lang in LOCALES:
        key, value = set_cookie_header(LANG_COOKIE, lang, max_age=365 * 24 * 3600,
                                       secure=request.app.state.settings.is_production, http_only=False)
        response.raw_headers.append((key, value))
    return response


async def status_badges(request: Request) -> Response:
    try:
        service_ok = await request.app.state.db.ping(timeout=1.0)
    except Exception:  # any database failure shows as a degraded service, never as an error page
        service_ok = False
    return render(request, "partials/status_badges.html", {"service_ok": service_ok})


routes: list[BaseRoute] = [
    Route("/", home, methods=["GET"], name="home"),
    Route("/lang", set_language, methods=["POST"], name="set_language"),
    Route("/status/badges", status_badges, methods=["GET"], name="status_badges"),
]
