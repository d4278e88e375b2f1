"""404, 500 and 503 (database unavailable) pages in the site layout (JSON for API paths)."""

from __future__ import annotations

from loguru import logger
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute

from web.i18n import N_, gettext
from web.security.responses import wants_json
from web.templating import render

_TITLES = {
    400: (N_("Bad request"), N_("The request could not be understood. Reload the page and try again.")),
    403: (N_("Forbidden"), N_("You do not have access to this page.")),
    404: (N_("Page not found"), N_("This page does not exist. Check the address or go back to the home page.")),
    405: (N_("Method not allowed"), N_("This address does not accept that kind of request.")),
    503: (N_("Temporarily unavailable"), N_("The service is temporarily unavailable. Try again in a minute.")),
    500: (N_("Something went wrong"), N_("An unexpected error happened on our side. Try again; if it keeps happening, "
          "run the connection check and send the report ID to support.")),
}


def _page(request: Request, status: int) -> Response:
    title, message = _TITLES.get(status, _TITLES[500] if status >= 500 else _TITLES[400])
    if wants_json(request.scope):
        return JSONResponse({"error": {"code": f"http_{status}", "message": gettext(message), "message_en": message}},
                            status_code=status)
    try:
        return render(request, "pages/error.html",
                      {"status_code": status, "title": gettext(title), "message": gettext(message)},
                      status_code=status)
    except Exception:  # the error page itself must never fail: fall back to plain text
        logger.exception("error page failed to render")
        return Response(gettext(message), status_code=status, media_type="text/plain; charset=utf-8")


async def http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    response = _page(request, status)
    if isinstance(exc, HTTPException) and exc.headers:
        response.headers.update(exc.headers)
    return response


async def server_error(request: Request, exc: Exception) -> Response:
    logger.opt(exception=exc).error("unhandled error", path=request.url.path)
    return _page(request, 500)


async def database_unavailable(request: Request, exc: Exception) -> Response:
    """The database did not answer: the service is unavailable for now (503), not broken by this request (500)."""
    logger.error("database unavailable", path=request.url.path, error=str(exc))
    response = _page(request, 503)
    response.headers["Retry-After"] = "30"
    return response


async def favicon(request: Request) -> Response:
    return RedirectResponse("/static/favicon.svg", status_code=301)


routes: list[BaseRoute] = []
