"""The ICE servers of one call: static `RTC_ICE_SERVERS` entries plus TURN credentials minted for this call.

coturn's shared-secret scheme ("TURN REST API", `use-auth-secret` + `static-auth-secret`): with `RTC_TURN_SECRET` and
`RTC_TURN_URLS` set, every call gets its own credentials, `username = "<expiry unix time>:<user id>"` and
`password = base64(HMAC-SHA1(secret, username))`. coturn recomputes the HMAC and refuses a username whose time has
passed, so a credential that leaks from a page stops working after `RTC_TURN_TTL_S`. The secret itself never leaves
this module: not in /v1/realtime/config, not in a log line (`IceServers.__repr__` names no secret).

`RTC_RELAY_ONLY=true` makes the server's own peer connection gather relay candidates only (aioice's
`TransportPolicy.RELAY` through aiortc's `iceTransportPolicy`), for servers whose UDP ports cannot be opened: every
call then goes through the TURN server, which the server reaches over UDP or TCP (`?transport=tcp`).
aiortc uses only the first TURN URL it can use (UDP or TCP; `turns:` needs a certificate the server trusts), so list
the one the server should use first; the browser gets them all and picks what its network lets through.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiortc import RTCConfiguration, RTCIceTransportPolicy
from aiortc.rtcicetransport import parse_stun_turn_uri

from web.media.rtc.ice import IceServer, parse_ice_servers
from web.settings import Settings, SettingsError

MIN_TTL_S = 60
MAX_TTL_S = 7 * 24 * 3600


def rest_credentials(secret: str, user: str, ttl_s: int, now: float | None = None) -> tuple[str, str]:
    """(username, password) in coturn's `use-auth-secret` format, valid until now + ttl_s."""
    expiry = int(now if now is not None else time.time()) + ttl_s
    username = f"{expiry}:{user}" if user else str(expiry)
    digest = hmac.new(secret.encode("utf-8"), username.encode("utf-8"), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


def parse_turn_urls(urls: Sequence[str]) -> tuple[str, ...]:
    """`RTC_TURN_URLS`: turn:/turns: URLs without credentials (those are minted per call)."""
    checked: list[str] = []
    for url in (u.strip() for u in urls):
        if not url:
            continue
        if not url.startswith(("turn:", "turns:")):
            raise SettingsError(f"RTC_TURN_URLS: {url.split(':')[0]!r} is not a turn: or turns: URL")
        if "@" in url:
            raise SettingsError("RTC_TURN_URLS: leave credentials out of the URLs; they are made from RTC_TURN_SECRET")
        try:
            parse_stun_turn_uri(url)
        except ValueError as exc:
            raise SettingsError(f"RTC_TURN_URLS: cannot parse {url!r}: {exc}") from exc
        checked.append(url)
    return tuple(checked)


@dataclass(frozen=True)
class IceServers:
    """Where a call's ICE servers come from; built once at start-up (bad settings fail there, clearly)."""

    static: tuple[IceServer, ...] = ()
    turn_urls: tuple[str, ...] = ()
    turn_secret: str = ""
    ttl_s: int = 3600
    relay_only: bool = False

    def __repr__(self) -> str:  # the secret and static credentials stay out of every repr and log line
        return (f"IceServers(static={[s.url for s in self.static]}, turn_urls={list(self.turn_urls)}, "
                f"ttl_s={self.ttl_s}, relay_only={self.relay_only})")

    @classmethod
    def from_settings(cls, settings: Settings) -> IceServers:
        static = tuple(parse_ice_servers(settings.rtc_ice_servers))
        urls = parse_turn_urls(settings.rtc_turn_urls)
        secret = settings.rtc_turn_secret
        if bool(urls) != bool(secret):
            raise SettingsError("RTC_TURN_SECRET and RTC_TURN_URLS go together: set both (coturn's "
                                "static-auth-secret and its turn: URLs) or neither")
        if not MIN_TTL_S <= settings.rtc_turn_ttl_s <= MAX_TTL_S:
            raise SettingsError(f"RTC_TURN_TTL_S must be between {MIN_TTL_S} and {MAX_TTL_S} seconds, "
                                f"got {settings.rtc_turn_ttl_s}")
        if not 0.1 <= settings.rtc_ice_gather_timeout_s <= 5.0:
            raise SettingsError(f"RTC_ICE_GATHER_TIMEOUT_S must be between 0.1 and 5 seconds, "
                                f"got {settings.rtc_ice_gather_timeout_s}")
        has_turn = bool(urls) or any(s.url.startswith("turn") for s in static)
        if settings.rtc_relay_only and not has_turn:
            raise SettingsError("RTC_RELAY_ONLY=true needs a TURN server: set RTC_TURN_SECRET and RTC_TURN_URLS, "
                                "or a turn: entry in RTC_ICE_SERVERS")
        return cls(static, urls, secret, settings.rtc_turn_ttl_s, settings.rtc_relay_only)

    def for_call(self, user: int | str, now: float | None = None) -> list[IceServer]:
        """The servers for one call (or one page load): static entries first, then freshly minted TURN ones."""
        servers = list(self.static)
        if self.turn_urls:
            username, password = rest_credentials(self.turn_secret, str(user), self.ttl_s, now)
            servers += [IceServer(url, username, password) for url in self.turn_urls]
        return servers

    def for_browser(self, user: int | str, now: float | None = None) -> list[dict[str, Any]]:
        return [server.for_browser() for server in self.for_call(user, now)]

    def rtc_configuration(self, user: int | str, now: float | None = None) -> RTCConfiguration:
        """The server's own peer connection (aiortc takes the first usable STUN and TURN entry), relay-only if set."""
        servers = self.for_call(user, now)
        policy = RTCIceTransportPolicy.RELAY if self.relay_only else RTCIceTransportPolicy.ALL
        return RTCConfiguration(iceServers=[s.for_aiortc() for s in servers], iceTransportPolicy=policy)
