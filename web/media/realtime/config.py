"""Which realtime upstream to talk to, at which URL, with which protocol — resolved once from `Settings`.

Azure has two WebSocket protocols that are not interchangeable: GA on `/openai/v1/realtime?model=` (no api-version) and
the preview/beta protocol on `/openai/realtime?api-version=…-preview&deployment=…`. A non-preview date such as
`2025-08-28` is the gpt-realtime *model* version, not an api-version: it selects GA and earns a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from web.settings import Settings

MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # large audio deltas; websockets' 1 MiB default closes the socket with 1009
_RETIRED_API_VERSIONS = {"2024-10-01-preview"}


@dataclass(frozen=True)
class UpstreamConfig:
    mode: str  # echo | azure | openai
    url: str  # never carries a credential
    protocol: str  # ga | beta
    headers: dict[str, str] = field(default_factory=dict, repr=False)  # carries the credential
    warnings: tuple[str, ...] = ()
    configured: bool = True
    problem: str = ""  # why `configured` is False
    connect_timeout_s: float = 10.0

    @property
    def secrets(self) -> tuple[str, ...]:
        """Credential values, so error details can be redacted against them."""
        values = []
        for name, value in self.headers.items():
            if name.lower() == "api-key":
                values.append(value)
            elif name.lower() == "authorization":
                values.append(value.removeprefix("Bearer ").strip())
        return tuple(v for v in values if v)


def _ws_base(raw: str) -> tuple[str, str]:
    """Normalise an endpoint to (`ws[s]://host[:port]`, base path without trailing slash)."""
    text = raw.strip()
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    scheme = {"https": "wss", "wss": "wss", "http": "ws", "ws": "ws"}.get(parts.scheme.lower(), "wss")
    return f"{scheme}://{parts.netloc}", parts.path.rstrip("/")


def _azure(settings: Settings) -> UpstreamConfig:
    endpoint = settings.azure_openai_realtime_endpoint
    deployment = settings.azure_openai_realtime_deployment_name
    key = settings.azure_openai_realtime_api_key
    version = settings.azure_openai_realtime_api_version.strip()
    warnings: list[str] = []
    problems = [
        name
        for name, value in (
            ("AZURE_OPENAI_REALTIME_ENDPOINT", endpoint),
            ("AZURE_OPENAI_REALTIME_API_KEY", key),
            ("AZURE_OPENAI_REALTIME_DEPLOYMENT_NAME", deployment),
        )
        if not value
    ]
    base, path = _ws_base(endpoint) if endpoint else ("wss://<unset>", "")
    # People paste the full realtime URL, or the SDK's `…/openai/v1` base: keep only what precedes `/openai`.
    if "/openai" in path:
        path = path[: path.index("/openai")]
    dep = quote(deployment, safe="")
    if version.endswith("-preview"):
        protocol = "beta"
        url = f"{base}{path}/openai/realtime?api-version={quote(version, safe='')}&deployment={dep}"
        warnings.append(
            f"AZURE_OPENAI_REALTIME_API_VERSION={version} selects Azure's preview (beta) realtime protocol, which "
            "Azure deprecates from 2026-04-30; leave it empty to use the GA path /openai/v1/realtime."
        )
        if version in _RETIRED_API_VERSIONS:
            warnings.append(f"api-version {version} is retired by Azure; use 2025-04-01-preview or the GA path.")
    else:
        protocol = "ga"
        url = f"{base}{path}/openai/v1/realtime?model={dep}"
        if version:
            warnings.append(
                f"AZURE_OPENAI_REALTIME_API_VERSION={version} is not a preview api-version (it looks like the "
                "gpt-realtime model version); the GA path /openai/v1/realtime takes no api-version, so it is ignored."
            )
    return UpstreamConfig(
        mode="azure",
        url=url if endpoint else "",
        protocol=protocol,
        headers={"api-key": key} if key else {},
        warnings=tuple(warnings),
        configured=not problems,
        problem=("missing " + ", ".join(problems)) if problems else "",
        connect_timeout_s=settings.realtime_connect_timeout_s,
    )


def _openai(settings: Settings) -> UpstreamConfig:
    base, path = _ws_base(settings.openai_base_url or "https://api.openai.com/v1")
    model = quote(settings.openai_realtime_model or "gpt-realtime", safe="")
    key = settings.openai_api_key
    return UpstreamConfig(
        mode="openai",
        url=f"{base}{path}/realtime?model={model}",
        protocol="ga",
        headers={"Authorization": f"Bearer {key}"} if key else {},
        configured=bool(key),
        problem="" if key else "missing OPENAI_API_KEY",
        connect_timeout_s=settings.realtime_connect_timeout_s,
    )


def resolve_upstream(settings: Settings) -> UpstreamConfig:
    """The upstream for `settings.voice_mode`; logs each configuration warning once per process."""
    mode = settings.voice_mode
    if mode == "azure":
        config = _azure(settings)
    elif mode == "openai":
        config = _openai(settings)
    else:
        config = UpstreamConfig("echo", "", "ga", connect_timeout_s=settings.realtime_connect_timeout_s)
    return config


def describe_upstream(settings: Settings) -> dict[str, Any]:
    """Secret-free summary for readiness and diagnostics."""
    config = resolve_upstream(settings)
    return {
        "mode": config.mode,
        "url": config.url,
        "protocol": config.protocol,
        "warnings": list(config.warnings),
        "configured": config.configured,
        "problem": config.problem,
    }
