"""Upstream failures with one stable code, an operator message (English) and a user message (zh-CN first).

Everything that can go wrong between the gateway and the realtime service ends up as an `UpstreamError`, so the call
endpoint, readiness and the support page all speak the same vocabulary. No message ever contains a credential: the
texts are built here from fixed templates plus details that pass through `redact()`.
"""

from __future__ import annotations

import json
import re
from typing import Final

# code -> (operator message, user message). Operator text says what to check; user text says what to do.
_MESSAGES: Final[dict[str, tuple[str, str]]] = {
    "key_rejected": (
        "The realtime service rejected the API key (HTTP 401). Check AZURE_OPENAI_REALTIME_API_KEY / OPENAI_API_KEY, "
        "and that the GA URL carries no api-version.",
        "语音服务认证失败，请联系管理员。(The voice service rejected the gateway's credentials; please contact the "
        "administrator.)",
    ),
    "bad_deployment": (
        "The realtime service refused the deployment or model (HTTP 400). Check AZURE_OPENAI_REALTIME_DEPLOYMENT_NAME "
        "names a gpt-realtime deployment, and AZURE_OPENAI_REALTIME_API_VERSION.",
        "语音模型配置有误，请联系管理员。(The voice model is not configured correctly; please contact the "
        "administrator.)",
    ),
    "deployment_not_found": (
        "The realtime service has no deployment of this name (HTTP 404 DeploymentNotFound). Set "
        "AZURE_OPENAI_REALTIME_DEPLOYMENT_NAME to the name of a gpt-realtime deployment of this resource (Azure AI "
        "Foundry → Deployments); a deployment created in the last minutes may not be ready yet.",
        "语音模型配置有误，请联系管理员。(The voice model is not configured correctly; please contact the "
        "administrator.)",
    ),
    "not_found": (
        "The realtime endpoint was not found (HTTP 404). Check AZURE_OPENAI_REALTIME_ENDPOINT / OPENAI_BASE_URL.",
        "语音服务地址配置有误，请联系管理员。(The voice service address is wrong; please contact the administrator.)",
    ),
    "throttled": (
        "The realtime service is throttling this resource (HTTP 429). Retry later or raise the quota.",
        "语音服务繁忙，请稍后再试。(The voice service is busy; please try again in a moment.)",
    ),
    "server_error": (
        "The realtime service answered with a server error.",
        "语音服务暂时不可用，请稍后再试。(The voice service is temporarily unavailable; please try again later.)",
    ),
    "handshake_failed": (
        "The realtime service refused the WebSocket upgrade.",
        "无法连接语音服务，请稍后再试。(Could not connect to the voice service; please try again later.)",
    ),
    "unreachable": (
        "The realtime service could not be reached (DNS, TCP or TLS failure).",
        "无法连接语音服务，请检查网络后再试。(Could not reach the voice service; please check the network and try "
        "again.)",
    ),
    "timeout": (
        "Connecting to the realtime service timed out.",
        "连接语音服务超时，请稍后再试。(Connecting to the voice service timed out; please try again later.)",
    ),
    "closed": (
        "The realtime service closed the connection.",
        "语音服务连接已断开，请重新开始。(The connection to the voice service was lost; please start again.)",
    ),
    "stalled": (
        "The realtime service stopped answering while a response was expected.",
        "语音服务没有响应，请重新开始。(The voice service stopped responding; please start again.)",
    ),
    "protocol": (
        "The realtime service sent something unexpected (not a Realtime session).",
        "语音服务返回了异常数据，请联系管理员。(The voice service answered unexpectedly; please contact the "
        "administrator.)",
    ),
    "misconfigured": (
        "The realtime upstream is not configured.",
        "语音服务尚未配置，请联系管理员。(The voice service is not configured; please contact the administrator.)",
    ),
    "internal": (
        "The realtime relay failed unexpectedly.",
        "语音服务出现内部错误，请重新开始。(The voice service hit an internal error; please start again.)",
    ),
}

_STATUS_CODES: Final[dict[int, str]] = {
    401: "key_rejected", 403: "key_rejected", 400: "bad_deployment", 404: "not_found", 429: "throttled"
}

# Long opaque tokens (API keys, bearer tokens) are masked in any detail text we did not write ourselves.
_TOKEN_RE = re.compile(r"[A-Za-z0-9_\-]{32,}")


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove known secrets and anything that looks like a long token from a detail string."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return _TOKEN_RE.sub("***", text)


class UpstreamError(Exception):
    """A failure of the realtime upstream; `code` is stable and machine-readable."""

    def __init__(self, code: str, detail: str = "", *, status: int | None = None) -> None:
        operator, user = _MESSAGES.get(code, _MESSAGES["internal"])
        self.code = code
        self.status = status
        self.detail = redact(detail)
        self.operator_message = f"{operator} ({self.detail})" if self.detail else operator
        self.user_message = user
        super().__init__(f"{code}: {self.operator_message}")

    def __repr__(self) -> str:
        return f"UpstreamError(code={self.code!r}, status={self.status!r})"


# the service's own error code (JSON body `{"error": {"code": …}}`) says more than the status
_BODY_CODES: Final[dict[str, str]] = {"DeploymentNotFound": "deployment_not_found"}


def _body_code(body: str) -> str:
    try:
        error = json.loads(body).get("error") or {}
    except (ValueError, AttributeError):
        return ""
    return str(error.get("code") or "") if isinstance(error, dict) else ""


def error_for_status(status: int, body: str = "", tried: str = "") -> UpstreamError:
    """Map a refused WebSocket upgrade (HTTP status + body) to an `UpstreamError`; `tried` names what was asked
    for (the deployment), shown in the detail."""
    snippet = " ".join(body.split())[:200]
    by_body = _BODY_CODES.get(_body_code(body))
    if by_body:
        detail = f"HTTP {status}: " + (f"deployment {tried!r} tried; " if tried else "") + snippet
        return UpstreamError(by_body, detail, status=status)
    if status in _STATUS_CODES:
        code = _STATUS_CODES[status]
    elif status >= 500:
        code = "server_error"
    else:
        code = "handshake_failed"
    detail = f"HTTP {status}" + (f": {snippet}" if snippet else "")
    return UpstreamError(code, detail, status=status)
