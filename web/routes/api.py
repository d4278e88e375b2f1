"""Small JSON API for signed-in clients (the page's scripts, devices)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from web.auth.guards import api_login_required


@api_login_required
async def me(request: Request) -> Response:
    user = request.state.user
    session = request.state.session
    return JSONResponse({
        "id": user.id, "email": user.email, "display_name": user.display_name, "role": user.role,
        "session_expires_at": session.expires_at if session else None,
        "server_time": request.app.state.clock(),
    })


routes: list[BaseRoute] = [Route("/api/me", me, methods=["GET"], name="api_me")]
