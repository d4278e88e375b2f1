"""The fake Realtime service: routes, auth and rejections at the HTTP upgrade (as Azure does), then a conversation.

Routes: Azure GA `/openai/v1/realtime?model=`, Azure preview `/openai/realtime?api-version=…-preview&deployment=…`
(beta event names), OpenAI `/v1/realtime?model=`. Auth: `api-key` header, `Authorization: Bearer`, or `?api-key=`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from .conversation import FakeConversation
from .options import FakeOptions
from .shapes import Event

# The fake stands in for a remote service whose logs are not ours: keep its handshake headers (keys) out of DEBUG logs,
# so tests that scan every log line for the key only see what the app itself logs.
_LOGGER = logging.getLogger("tests.fake_realtime")
_LOGGER.setLevel(logging.INFO)

AZURE_401 = ("Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key "
             "for an active subscription and use a correct regional API endpoint for your resource.")


@dataclass
class Handshake:
    path: str
    status: int  # 101 when upgraded
    auth: str  # api-key | bearer | query | none
    protocol: str = ""  # ga | beta | "" when refused
    received: list[Event] = field(default_factory=list)
    ended: asyncio.Event = field(default_factory=asyncio.Event)  # set when the connection is over (either side)


class FakeRealtimeServer:
    """`async with FakeRealtimeServer(FakeOptions(...)) as fake:` then use `fake.base_url` (http://127.0.0.1:PORT)."""

    def __init__(self, options: FakeOptions | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.options = options or FakeOptions()
        self.host = host
        self.port = port
        self.handshakes: list[Handshake] = []
        self._server: Server | None = None
        self._accepted: dict[int, tuple[Handshake, str]] = {}

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def connections(self) -> list[Handshake]:
        """Upgrades that were accepted, in order."""
        return [h for h in self.handshakes if h.status == 101]

    @property
    def received(self) -> list[Event]:
        """Every client event received, over all connections, in order per connection."""
        return [event for h in self.connections for event in h.received]

    def received_types(self) -> list[str]:
        return [str(e.get("type")) for e in self.received]

    async def wait_all_ended(self, timeout: float = 3.0) -> None:
        """Until every accepted connection is over (the client closed it, or the fake did)."""
        async with asyncio.timeout(timeout):
            for connection in self.connections:
                await connection.ended.wait()

    def settings_overrides(self, mode: str = "azure") -> dict[str, Any]:
        """Settings fields pointing the app at this fake: mode azure | azure-preview | openai."""
        if mode == "openai":
            return {"realtime_upstream": "openai", "openai_api_key": self.options.api_key,
                    "openai_base_url": f"{self.base_url}/v1", "openai_realtime_model": self.options.deployments[0]}
        return {"realtime_upstream": "azure", "azure_openai_realtime_endpoint": self.base_url,
                "azure_openai_realtime_api_key": self.options.api_key,
                "azure_openai_realtime_deployment_name": self.options.deployments[0],
                "azure_openai_realtime_api_version": "2025-04-01-preview" if mode == "azure-preview" else ""}

    async def start(self) -> None:
        self._server = await serve(self._handle, self.host, self.port, process_request=self._process_request,
                                   max_size=16 * 1024 * 1024, compression=None, logger=_LOGGER)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FakeRealtimeServer:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    def _reply(self, connection: ServerConnection, record: Handshake, status: int, body: dict[str, Any]) -> Response:
        record.status = status
        response = connection.respond(status, json.dumps(body))
        del response.headers["Content-Type"]
        response.headers["Content-Type"] = "application/json"
        response.headers["apim-request-id"] = "fake-request-id"
        return response

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        headers = request.headers
        bearer = headers.get("Authorization", "")
        key = self.options.api_key
        auth = ("api-key" if headers.get("api-key") == key else "bearer" if bearer == f"Bearer {key}"
                else "query" if query.get("api-key") == key else "none")
        record = Handshake(path=request.path.split("?")[0], status=0, auth=auth)
        index = len(self.handshakes)
        self.handshakes.append(record)
        if url.path in ("/openai/v1/realtime", "/v1/realtime"):
            protocol, deployment = "ga", query.get("model", "")
        elif url.path == "/openai/realtime":
            protocol, deployment = "beta", query.get("deployment", "")
        else:
            return self._reply(connection, record, 404, {"error": {"code": "404", "message": "Resource not found"}})
        if auth == "none" or (url.path == "/openai/v1/realtime" and "api-version" in query):
            return self._reply(connection, record, 401, {"error": {"code": "401", "message": AZURE_401}})
        first, count = self.options.reject_after, self.options.reject_count
        rejecting = self.options.reject_status is not None and first <= index and (
            count is None or index < first + count)
        if rejecting:
            status = int(self.options.reject_status or 500)
            message = {401: AZURE_401, 404: "Resource not found",
                       429: "Requests to the Realtime API have exceeded call rate limit. Please retry later."
                       }.get(status, "The server had an error while processing your request.")
            code = str(status)
            return self._reply(connection, record, status, {"error": {"code": code, "message": message}})
        if protocol == "beta" and query.get("api-version", "") not in self.options.preview_api_versions:
            return self._reply(connection, record, 400,
                               {"error": {"code": "BadRequest", "message": "API version not supported"}})
        if deployment not in self.options.deployments:
            return self._reply(connection, record, 400, {"error": {
                "code": "OpperationNotSupported",
                "message": "The realtime operation does not work with the specified model, "
                           f"{deployment}. Please choose different model and try again."}})
        record.status, record.protocol = 101, protocol
        self._accepted[id(connection)] = (record, deployment)
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        record, deployment = self._accepted.pop(id(ws))
        index = self.connections.index(record)
        conversation = FakeConversation(ws, protocol=record.protocol, model=deployment, options=self.options,
                                        faulty=self.options.faulty(index), received=record.received)
        try:
            await conversation.run()
        finally:
            record.ended.set()
