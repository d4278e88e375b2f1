"""From posted measurements to a verdict: the one entry point the page's route and the CLI share for checks that
are measured on the client side."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from web.diagnostics import rules_browser, rules_call, rules_quality, rules_server
from web.diagnostics.model import CheckResult
from web.diagnostics.useragent import UserAgent, parse_user_agent
from web.diagnostics.values import Values


@dataclass(frozen=True)
class Context:
    """What the server knows about the client posting the values."""

    user_agent: UserAgent = parse_user_agent("")
    signed_in: bool = False
    session_remaining_s: float | None = None
    auth_failure: str = ""
    websocket_available: bool = False
    upstream_error: str = ""  # an upstream error the server recorded for this user in the last minute (closed …)


Rule = Callable[[Values, Context], CheckResult]


def _samples(rule: Callable[[list[Values]], CheckResult]) -> Rule:
    return lambda v, _ctx: rule(v.dicts("samples"))


def _session(v: Values, ctx: Context) -> CheckResult:
    # The server's own view of the sign-in is authoritative; the page only adds its clock reading.
    failure = ctx.auth_failure or v.text("page_auth_failure", limit=20)
    return rules_server.session(ctx.signed_in, ctx.session_remaining_s, failure, v.num("clock_skew_ms"))


CLIENT_RULES: dict[str, Rule] = {
    "secure_context": lambda v, _ctx: rules_browser.secure_context(v),
    "browser": lambda v, ctx: rules_browser.browser(v, ctx.user_agent),
    "server_health": lambda v, _ctx: rules_server.server_health(v),
    "readiness": lambda v, _ctx: rules_server.readiness(v),
    "session": _session,
    "mic_permission": lambda v, _ctx: rules_browser.mic_permission(v),
    "audio_devices": lambda v, _ctx: rules_browser.audio_devices(v),
    "mic_level": lambda v, _ctx: rules_browser.mic_level(v),
    "speaker": lambda v, _ctx: rules_browser.speaker(v),
    "ice": lambda v, _ctx: rules_call.ice(v),
    "signalling": lambda v, _ctx: rules_call.signalling(v),
    "media_path": lambda v, _ctx: rules_call.media_path(v),
    "echo": lambda v, ctx: rules_call.echo(v, ctx.upstream_error),
    "websocket": lambda v, ctx: rules_call.websocket(v, ctx.websocket_available),
    "rtt": _samples(rules_quality.rtt),
    "jitter": _samples(rules_quality.jitter),
    "packet_loss": _samples(rules_quality.packet_loss),
    "bitrate": _samples(rules_quality.bitrate),
    "mos": _samples(rules_quality.mos),
}


def evaluate(check_id: str, values: Values, ctx: Context) -> CheckResult | None:
    rule = CLIENT_RULES.get(check_id)
    return rule(values, ctx) if rule else None
