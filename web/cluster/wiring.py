"""Connects the app's services to the cluster: what other processes may ask of this one, and what it tells them."""

from __future__ import annotations

from loguru import logger

from web.cluster.base import Message
from web.cluster.router import CallOperation
from web.diagnostics.server_view import server_view_operation
from web.media.calls import Credential, LiveCall
from web.media.images import ImageRejected
from web.monitor.monitoring import Monitoring
from web.services import Services

REVOKE = "revoke"
HANDLES_PER_MESSAGE = 80  # 64-character handles: well under NOTIFY's 8,000 bytes


def _hang_up_with(svc: Services) -> CallOperation:
    async def hang_up(call: LiveCall, body: Message) -> Message:
        await call.close("hangup")
        await svc.cluster.settle()  # the user's limit is free again when the 204 arrives
        return {}

    return hang_up


async def broadcast_revocation(svc: Services, handles: list[str]) -> None:
    """Tell every other process that these credentials are revoked, so their calls end now (not at the sweep)."""
    if not svc.cluster.shared or not handles:
        return
    for start in range(0, len(handles), HANDLES_PER_MESSAGE):
        try:
            await svc.cluster.broadcast(REVOKE, {"handles": handles[start:start + HANDLES_PER_MESSAGE]})
        except Exception as exc:  # the sweep on every node still ends those calls within seconds
            logger.warning("could not tell the other processes about a revocation", error=str(exc))


async def _end(call: LiveCall, body: Message) -> Message:
    """End a call for a reason, with a last event for the client (an administrator's «end call»)."""
    note = body.get("note")
    await call.close(str(body.get("reason") or "ended"), note if isinstance(note, dict) else None)
    return {}


def _add_image_with(svc: Services) -> CallOperation:
    async def add_image(call: LiveCall, body: Message) -> Message | None:
        """A photo for this process's call, parked by the process that received the upload (routes/realtime_images)."""
        session = getattr(call, "session", None)
        if not callable(getattr(session, "add_image", None)):
            return None
        data = await svc.cluster.take_blob(int(body.get("blob", -1)))
        if data is None:
            return {"refused": "image_invalid", "detail": "the photo was lost on its way to the call's server"}
        text = body.get("text")
        try:
            prepared = await session.add_image(data, text if isinstance(text, str) else None,  # type: ignore[union-attr]
                                               body.get("respond") is True)
        except ImageRejected as exc:
            return {"refused": exc.code, "detail": exc.message}
        return {"image": {"width": prepared.width, "height": prepared.height, "bytes": len(prepared.jpeg),
                          "source_width": prepared.source_width, "source_height": prepared.source_height}}

    return add_image


def wire_cluster(svc: Services, monitoring: Monitoring) -> None:
    svc.router.register("hangup", _hang_up_with(svc))
    svc.router.register("end", _end)
    svc.router.register("image", _add_image_with(svc))
    svc.router.register("server_view", server_view_operation)

    async def revoked_elsewhere(body: Message) -> None:
        handles = body.get("handles")
        if isinstance(handles, list):
            await svc.calls.close_for_credentials(Credential.from_handle(str(h)) for h in handles if h)

    async def revoked_here(handles: list[str]) -> None:
        await broadcast_revocation(svc, handles)

    svc.cluster.on_broadcast(REVOKE, revoked_elsewhere)
    svc.sessions.add_revocation_listener(revoked_here)

    monitoring.register_gauge("cluster_nodes_live", "Gateway processes holding a lease (all hosts; 1 without "
                              "PostgreSQL).", lambda: svc.cluster.snapshot().get("nodes_live", 1))
    monitoring.register_gauge("voice_calls_cluster_active", "Voice calls open on every process of the cluster.",
                              lambda: svc.cluster.snapshot().get("calls_live", 0))
    monitoring.register_gauge("calls_forwarded_total", "Requests about a call passed to the process that owns it.",
                              lambda: svc.router.forwarded, kind="counter")
    monitoring.register_gauge("process_draining", "1 while this process drains after SIGTERM.",
                              lambda: int(svc.drainer.draining))
