"""The Realtime WebSocket endpoint, shaped like OpenAI's (`wss://…/v1/realtime?model=…`), with our auth.

    GET /v1/realtime[?model=…]   WebSocket upgrade → GA Realtime events both ways (web/media/ws)
    GET /v1/realtime             without an upgrade → 426 with a JSON error saying so
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from web.media.ws.endpoint import RealtimeWebSocketEndpoint


async def upgrade_required(request: Request) -> Response:
    body = {"error": {"code": "upgrade_required",
                      "message": "This endpoint speaks the Realtime protocol over a WebSocket: connect with ws:// or "
                                 "wss:// (the openai SDK: websocket_base_url=<origin>/v1)."}}
    return JSONResponse(body, status_code=426, headers={"Upgrade": "websocket", "Connection": "Upgrade",
                                                        "Cache-Control": "no-store"})


routes: list[BaseRoute] = [
    WebSocketRoute("/v1/realtime", RealtimeWebSocketEndpoint(), name="realtime_ws"),
    Route("/v1/realtime", upgrade_required, methods=["GET"], name="realtime_ws_http"),
]
