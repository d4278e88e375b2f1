"""The call endpoint, shaped like OpenAI's Realtime WebRTC API, with our session auth.

    POST   /v1/realtime/calls                   application/sdp offer (or multipart: `sdp` + `session` parts)
                                                → 201, answer SDP, Location: /v1/realtime/calls/{call_id}
    DELETE /v1/realtime/calls/{call_id}         hang up → 204
    POST   /v1/realtime/calls/{call_id}/hangup  the same, as OpenAI spells it
    GET    /v1/realtime/config                  ICE servers (with TURN credentials) and the voice mode, for the page

Order of checks for a new call: signed in (401 before anything else), body shape (415/400), admission (429/503,
nothing allocated), then the offer (400 with the reason) and the upstream (502/503/504 with the user message).
CSRF is the app's middleware's job: every non-safe method here needs the page's token and a same-origin request.
"""

from __future__ import annotations

from typing import Any

from loguru import logger
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from web.auth.guards import api_login_required
from web.cluster.router import OwnerUnreachable
from web.i18n import N_, gettext
from web.media.calls import AdmissionError
from web.media.calls.upstream import describe_upstream_error
from web.media.rtc.negotiate import MAX_SDP_BYTES, OfferError
from web.routes.call_auth import credential_of
from web.security.json_input import JSONInputError, loads_bounded
from web.services import services
from web.usage.admission import quota_refusal, refusal_response

BAD_OFFER = N_("The connection offer from this device could not be used. Reload the page and try again.")
BAD_BODY = N_("Send the WebRTC offer as application/sdp, or as multipart/form-data with an sdp part.")
NO_CALL = N_("This call does not exist or has already ended.")
OWNER_BUSY = N_("The server holding this call did not answer. Try hanging up again in a moment.")
UPSTREAM_TIMEOUT = N_("Connecting to the voice service timed out. Please try again later.")
MAX_SESSION_BYTES = 64 * 1024


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    body = {"code": code, "message": gettext(message), "message_en": message, **extra}
    return JSONResponse({"error": body}, status_code=status, headers={"Cache-Control": "no-store"})


class BodyError(Exception):
    pass


async def _read_offer(request: Request) -> tuple[str, dict[str, Any] | None]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/sdp":
        raw = await request.body()
        if len(raw) > MAX_SDP_BYTES:
            raise BodyError(f"the offer is larger than {MAX_SDP_BYTES // 1024} KiB")
        try:
            return raw.decode("utf-8"), None
        except UnicodeDecodeError as exc:
            raise BodyError("the offer is not UTF-8 text") from exc
    if content_type == "multipart/form-data":
        form = await request.form(max_files=2, max_fields=2, max_part_size=MAX_SDP_BYTES)
        parts: dict[str, str] = {}
        for name in ("sdp", "session"):
            value = form.get(name)
            if isinstance(value, UploadFile):
                data = await value.read(MAX_SDP_BYTES + 1)
                if len(data) > MAX_SDP_BYTES:
                    raise BodyError(f"the {name} part is too large")
                parts[name] = data.decode("utf-8", "replace")
            elif isinstance(value, str):
                parts[name] = value
        if "sdp" not in parts:
            raise BodyError("the multipart body has no sdp part")
        session = None
        if parts.get("session"):
            try:
                session = loads_bounded(parts["session"])
            except JSONInputError as exc:
                raise BodyError(f"the session part: {exc}") from exc
            if not isinstance(session, dict):
                raise BodyError("the session part must be a JSON object")
        return parts["sdp"], session
    raise BodyError("unsupported content type")


@api_login_required
async def create_call(request: Request) -> Response:
    user = request.state.user
    try:
        offer, session_config = await _read_offer(request)
    except BodyError as exc:
        status = 415 if str(exc) == "unsupported content type" else 400
        return _error(status, "invalid_request", BAD_BODY, detail=str(exc))
    svc = services(request)
    over_quota = await quota_refusal(svc, user)
    if over_quota is not None:
        logger.info("call refused", user_id=user.id, code="quota_exceeded")
        return refusal_response(over_quota)
    secret = getattr(request.state, "client_secret", None)
    if session_config is None and secret is not None and secret.session:
        session_config = secret.session  # the session the app's backend minted the ek_ key with
    try:
        slot = await svc.calls.admit(user.id, "webrtc")
    except AdmissionError as exc:
        logger.info("call refused", user_id=user.id, code=exc.code)
        return _error(exc.status, exc.code, exc.message, **({"retry_after": 5} if exc.status == 503 else {}))
    try:
        call, answer = await svc.rtc.open_call(
            slot,
            credential=credential_of(request.state),
            offer_sdp=offer,
            session_config=session_config,
            log_context={"user_id": user.id, "request_id": getattr(request.state, "request_id", None)},
        )
    except OfferError as exc:
        logger.info("offer rejected", user_id=user.id, reason=str(exc))
        return _error(400, "invalid_offer", BAD_OFFER, detail=str(exc))
    except TimeoutError:
        logger.warning("upstream start timed out", user_id=user.id)
        return _error(504, "upstream_timeout", UPSTREAM_TIMEOUT)
    except Exception as exc:
        code, user_message, operator_message = describe_upstream_error(exc)
        if not hasattr(exc, "user_message"):
            raise  # not an upstream failure: a bug, let the 500 handler log it
        logger.warning("upstream refused the call", user_id=user.id, code=code, detail=operator_message)
        status = 503 if code == "throttled" else 502
        body = {"error": {"code": f"upstream_{code}", "message": user_message, "message_en": user_message}}
        return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})
    return Response(
        answer,
        status_code=201,
        media_type="application/sdp",
        headers={"Location": f"/v1/realtime/calls/{call.id}", "Cache-Control": "no-store"},
    )


@api_login_required
async def hang_up(request: Request) -> Response:
    """Whichever process received it: the call's owner (named by its id) hangs it up."""
    try:
        ended = await services(request).router.run("hangup", request.path_params["call_id"], request.state.user.id)
    except OwnerUnreachable:
        return _error(503, "call_owner_busy", OWNER_BUSY, retry_after=2)
    if ended is not None:
        return Response(status_code=204, headers={"Cache-Control": "no-store"})
    return _error(404, "call_not_found", NO_CALL)


@api_login_required
async def rtc_config(request: Request) -> Response:
    svc = services(request)
    ice_servers = svc.rtc.browser_ice_servers(request.state.user.id)  # TURN credentials minted for this user
    return JSONResponse(
        {"iceServers": ice_servers, "mode": svc.settings.voice_mode},
        headers={"Cache-Control": "no-store"},
    )


routes: list[BaseRoute] = [
    Route("/v1/realtime/calls", create_call, methods=["POST"], name="realtime_calls"),
    Route("/v1/realtime/calls/{call_id}", hang_up, methods=["DELETE"], name="realtime_call"),
    Route("/v1/realtime/calls/{call_id}/hangup", hang_up, methods=["POST"], name="realtime_call_hangup"),
    Route("/v1/realtime/config", rtc_config, methods=["GET"], name="realtime_config"),
]
