"""Fault modes of the fake that change what Azure answers at the handshake or in its first event, kept apart from
the core fake: an unknown deployment (404 `DeploymentNotFound`, Azure's error shape) and a resource that refuses the
preview (beta) protocol shape. The other faults (stall after `session.created`, close 1011 mid-call, slow first
audio) are `FakeOptions` knobs: `stall_after_s=0`, `close_after_s` / `close_on_audio`, `first_audio_delay_s`.
"""

from __future__ import annotations

import json

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from .options import FakeOptions
from .server import FakeRealtimeServer
from .shapes import error

DEPLOYMENT_NOT_FOUND = ("The API deployment for this resource does not exist. If you created the deployment within "
                        "the last 5 minutes, please wait a moment and try again.")
BETA_SHAPE_DISABLED = ("The beta Realtime API shape is disabled for this resource. Use the GA endpoint "
                       "/openai/v1/realtime.")


class FaultyRealtimeServer(FakeRealtimeServer):
    """`FakeRealtimeServer` plus `unknown_deployment` (any deployment not listed → 404 DeploymentNotFound, instead
    of the 400 an unsupported model gets) and `refuse_beta_shape` (preview upgrades are accepted, then the first
    event is an `error` with code `beta_api_shape_disabled` and the socket closes)."""

    def __init__(self, options: FakeOptions | None = None, *, unknown_deployment: bool = False,
                 refuse_beta_shape: bool = False, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(options, host=host, port=port)
        self.unknown_deployment = unknown_deployment
        self.refuse_beta_shape = refuse_beta_shape

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        response = super()._process_request(connection, request)
        record = self.handshakes[-1]
        if self.unknown_deployment and response is not None and response.status_code == 400 and \
                b"OpperationNotSupported" in (response.body or b""):
            return self._reply(connection, record, 404, {"error": {"code": "DeploymentNotFound",
                                                                   "message": DEPLOYMENT_NOT_FOUND}})
        return response

    async def _handle(self, ws: ServerConnection) -> None:
        record, _deployment = self._accepted[id(ws)]
        if self.refuse_beta_shape and record.protocol == "beta":
            self._accepted.pop(id(ws))
            await ws.send(json.dumps(error(BETA_SHAPE_DISABLED, code="beta_api_shape_disabled")))
            await ws.close(1008, "beta api shape disabled")
            record.ended.set()
            return
        await super()._handle(ws)
