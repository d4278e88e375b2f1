"""`POST /v1/realtime/calls/{call_id}/images`: a photo from the glasses (or the voice page) into a running call.

For devices whose SDK hands over a photo file rather than building Realtime events. The body is the photo itself
(`Content-Type: image/jpeg` or `image/png`, question in `?text=`, `?respond=true` to ask for a reply at once) or
multipart/form-data with an `image` file part and optional `text` and `respond` fields. Bearer token or session
(CSRF rules as for every other non-safe request); only the call's owner may send, anyone else gets 404. With more than
one process, the photo is parked in PostgreSQL for the process that holds the call (web/cluster), which adds it.
The photo is checked, downscaled and re-encoded like an `input_image` on the WebSocket (web/media/images).
"""

from __future__ import annotations

from typing import Any

from loguru import logger
from starlette.datastructures import UploadFile
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from web.auth.guards import api_login_required
from web.cluster.router import OwnerUnreachable
from web.i18n import N_, gettext
from web.media.images import ImageRejected
from web.media.images.conversation import MAX_TEXT_CHARS
from web.services import services

NO_CALL = N_("This call does not exist or has already ended.")
BAD_IMAGE_BODY = N_("Send the photo as image/jpeg or image/png, or as multipart/form-data with an image part.")
_REFUSALS: dict[str, tuple[int, str]] = {
    "image_too_large": (413, N_("The photo is too large. Lower the camera resolution and send it again.")),
    "image_unsupported_type": (415, N_("Only JPEG and PNG photos are accepted.")),
    "image_invalid": (400, N_("The photo is damaged or incomplete. Take it again and send the whole file.")),
    "image_rate_limited": (429, N_("Too many photos at once. Wait a second and send it again.")),
    "image_not_supported": (422, N_("This voice service connection cannot take photos. Ask the operator.")),
}
OTHER_REFUSAL = N_("The photo could not be added to the call. Try again.")
_TRUE = {"1", "true", "yes", "on"}


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    body = {"code": code, "message": gettext(message), "message_en": message, **extra}
    headers = {"Cache-Control": "no-store", **({"Retry-After": "1"} if status == 429 else {})}
    return JSONResponse({"error": body}, status_code=status, headers=headers)


class BodyError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


async def _read_limited(request: Request, limit: int) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyError(413, f"the photo is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_photo(request: Request, limit: int) -> tuple[bytes, str | None, bool]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in ("image/jpeg", "image/png"):
        return (await _read_limited(request, limit), request.query_params.get("text"),
                request.query_params.get("respond", "").lower() in _TRUE)
    if content_type != "multipart/form-data":
        raise BodyError(415, "unsupported content type")
    form = await request.form(max_files=1, max_fields=3, max_part_size=MAX_TEXT_CHARS * 4)
    image = form.get("image")
    if not isinstance(image, UploadFile):
        raise BodyError(400, "the multipart body has no image file part")
    data = await image.read(limit + 1)
    if len(data) > limit:
        raise BodyError(413, f"the photo is larger than {limit} bytes")
    text = form.get("text")
    respond = form.get("respond")
    return (data, text if isinstance(text, str) else None,
            isinstance(respond, str) and respond.lower() in _TRUE)


def _owned_session(request: Request, call_id: str) -> Any:
    call = services(request).calls.get(call_id)
    if call is None or call.user_id != request.state.user.id:
        return None
    session = getattr(call, "session", None)
    return session if callable(getattr(session, "add_image", None)) else None


def _image_reply(image: dict[str, Any], respond: bool) -> JSONResponse:
    return JSONResponse({"image": image, "response_requested": respond}, status_code=201,
                        headers={"Cache-Control": "no-store"})


def _refusal(request: Request, code: str, detail: str) -> JSONResponse:
    status, message = _REFUSALS.get(code, (409, OTHER_REFUSAL))
    logger.info("photo refused", user_id=request.state.user.id, code=code)
    return _error(status, code, message, detail=detail)


@api_login_required
async def add_image(request: Request) -> Response:
    svc = services(request)
    call_id = request.path_params["call_id"]
    session = _owned_session(request, call_id)
    elsewhere = session is None and svc.cluster.shared and svc.calls.get(call_id) is None
    if session is None and not elsewhere:
        return _error(404, "call_not_found", NO_CALL)
    limit = request.app.state.settings.image_max_input_bytes
    try:
        data, text, respond = await _read_photo(request, limit)
    except BodyError as exc:
        return _error(exc.status, "invalid_request", BAD_IMAGE_BODY, detail=str(exc))
    except ClientDisconnect:
        return Response(status_code=400)
    text = (text or "").strip()[:MAX_TEXT_CHARS] or None
    if session is None:  # the call may live on another process: park the photo for its owner, who adds it
        body = {"blob": await svc.cluster.put_blob(data), "text": text, "respond": respond}
        try:
            result = await svc.router.run("image", call_id, request.state.user.id, body)
        except OwnerUnreachable:
            result = None
        if result is None:
            return _error(404, "call_not_found", NO_CALL)
        if "refused" in result:
            return _refusal(request, str(result["refused"]), str(result.get("detail", "")))
        return _image_reply(result.get("image") or {}, respond)
    try:
        prepared = await session.add_image(data, text, respond)
    except ImageRejected as exc:
        return _refusal(request, exc.code, exc.message)
    return _image_reply({"width": prepared.width, "height": prepared.height, "bytes": len(prepared.jpeg),
                         "source_width": prepared.source_width, "source_height": prepared.source_height}, respond)


routes: list[BaseRoute] = [
    Route("/v1/realtime/calls/{call_id}/images", add_image, methods=["POST"], name="realtime_call_images"),
]
