"""The one route table. Every route is named; templates link through url_for."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from web.routes import (
    account_usage,
    admin_calls,
    admin_people,
    api,
    auth,
    client_secrets,
    diagnostics,
    errors,
    health,
    pages,
    realtime,
    realtime_images,
    realtime_ws,
    sso,
    tokens,
)
from web.templating import STATIC_DIR


def get_routes() -> list[BaseRoute]:
    return [
        *pages.routes,
        *auth.routes,
        *sso.routes,
        *api.routes,
        *tokens.routes,
        *realtime.routes,
        *realtime_images.routes,
        *realtime_ws.routes,
        *client_secrets.routes,
        *health.routes,
        *diagnostics.routes,
        *admin_people.routes,
        *admin_calls.routes,
        *account_usage.routes,
        *errors.routes,
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
        Route("/favicon.ico", errors.favicon, methods=["GET"], name="favicon"),
    ]
