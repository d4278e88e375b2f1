"""Typed settings, read once from the environment (and a `.env` file) at start-up.

Every variable is listed, with a comment, in `.env.example`. `load_settings()` is the only reader of
`os.environ` in the app; everything else receives a `Settings` object.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

APP_VERSION = "0.1.0"
MIN_SECRET_KEY_LENGTH = 32
_WEAK_SECRETS = {"change-me", "changeme", "secret", "dev", "development", "please-change-me"}


class SettingsError(ValueError):
    """A configuration value is missing or invalid; the message says which and how to fix it."""


@dataclass(frozen=True)
class Settings:
    app_env: str = "development"  # development | production | test
    host: str = "127.0.0.1"
    port: int = 3000
    public_origin: str = ""  # e.g. https://voice.example.com; empty → derived from the request (dev/test only)
    allowed_hosts: tuple[str, ...] = ("localhost", "127.0.0.1", "[::1]", "testserver")
    forwarded_allow_ips: str = "127.0.0.1"
    data_dir: Path = Path("data")
    database_url: str = ""  # empty → sqlite:///<data_dir>/app.db
    secret_key: str = ""
    log_level: str = "INFO"
    log_json: bool = False
    log_queue_size: int = 10_000

    # accounts and sessions
    demo_user_email: str = "betty@123.com"
    demo_user_password: str = "Betty@123.com"
    create_demo_user: bool = True
    session_idle_timeout_s: int = 30 * 60
    session_absolute_lifetime_s: int = 12 * 60 * 60
    login_max_failures_per_account: int = 10  # per window
    login_max_failures_per_ip: int = 30  # per window
    login_throttle_window_s: int = 15 * 60
    password_hash_time_cost: int = 3
    password_hash_memory_kib: int = 65536
    password_hash_parallelism: int = 4
    password_hash_concurrency: int = 0  # 0 = one hash at a time per two CPU cores (at least one)
    max_body_bytes: int = 256 * 1024

    # monitor
    monitor_interval_s: float = 1.0
    watchdog_timeout_s: float = 10.0

    # realtime upstream (names kept from the predecessor's configuration)
    realtime_upstream: str = "auto"  # auto | echo | azure | openai
    azure_openai_realtime_endpoint: str = ""
    azure_openai_realtime_api_key: str = field(default="", repr=False)
    azure_openai_realtime_deployment_name: str = ""
    azure_openai_realtime_api_version: str = ""
    openai_api_key: str = field(default="", repr=False)
    openai_realtime_model: str = "gpt-realtime"
    openai_base_url: str = "https://api.openai.com/v1"
    realtime_connect_timeout_s: float = 10.0
    realtime_voice: str = "alloy"
    realtime_instructions: str = ""

    # WebRTC
    # comma-separated STUN/TURN URLs, credentials as turn:user:pass@host:port
    rtc_ice_servers: str = field(default="", repr=False)
    rtc_announced_address: str = ""
    rtc_host_addresses: tuple[str, ...] = ()
    max_calls_per_user: int = 2
    max_calls_per_process: int = 16

    # processes: worker processes on this host (0 = one per core with PostgreSQL, one with SQLite), and SIGTERM
    web_concurrency: int = 0
    drain_timeout_s: float = 25.0  # how long live calls may go on after SIGTERM before they are told and closed

    # single sign-on (OpenID Connect); per-provider variables are parsed by web/auth/oidc/config.py
    oidc_providers: tuple[str, ...] = ()  # names, e.g. entra,google; each has OIDC_<NAME>_ISSUER etc.
    oidc_auto_create_users: bool = True  # first sign-in creates an account (else: only linked accounts)
    oidc_link_by_verified_email: bool = False  # link to the account with the same email if the IdP verified it
    oidc_http_timeout_s: float = 5.0  # per call to a provider (discovery, keys, token)
    oidc_metadata_ttl_s: int = 3600  # discovery document and signing keys are cached this long
    oidc_login_timeout_s: int = 600  # a started sign-in must come back from the provider within this time
    # The OIDC_<NAME>_* variables, collected by load_settings (their names depend on OIDC_PROVIDERS).
    oidc_provider_env: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    # hardening (issue 15): client address behind proxies, operational endpoints, slow clients
    # Proxies in front of the app that each append to X-Forwarded-For; the client is the entry that many places from
    # the right. -1: 1 when FORWARDED_ALLOW_IPS is "*" (a platform router), else 0 (uvicorn's own handling).
    forwarded_proxy_hops: int = -1
    # /metrics and the details of /health/ready: for this bearer token, or for clients at these addresses/networks.
    metrics_token: str = field(default="", repr=False)
    metrics_allow_ips: tuple[str, ...] = ("127.0.0.1", "::1")
    http_body_timeout_s: float = 10.0  # a request body must arrive within this time (408 after); 0 = no deadline

    # TURN with per-call credentials (coturn use-auth-secret) and relay-only for the server; web/media/rtc/turn.py
    rtc_turn_secret: str = field(default="", repr=False)  # coturn's static-auth-secret; never sent or logged
    rtc_turn_urls: tuple[str, ...] = ()  # turn:host:3478?transport=udp,turn:host:3478?transport=tcp,turns:host:443
    rtc_turn_ttl_s: int = 3600  # lifetime of each call's TURN credentials
    rtc_relay_only: bool = False  # the server's peer connection uses relay candidates only
    rtc_ice_gather_timeout_s: float = 1.5  # how long our gathering waits for each STUN/TURN server (aioice: 5 s)

    # usage, estimated cost and quotas (web/usage). Prices: US dollars per million tokens, estimates (gpt-realtime)
    usage_retention_days: int = 400  # conversation records older than this are deleted
    usage_price_text_input: float = 4.0
    usage_price_text_cached: float = 0.4
    usage_price_audio_input: float = 32.0
    usage_price_audio_cached: float = 0.4
    usage_price_image_input: float = 5.0
    usage_price_image_cached: float = 0.5
    usage_price_text_output: float = 16.0
    usage_price_audio_output: float = 64.0
    usage_price_transcription_input: float = 6.0  # per million audio tokens transcribed
    usage_price_transcription_output: float = 10.0  # per million transcript tokens
    usage_price_transcription_minute: float = 0.006  # per minute, for duration-billed transcription
    quota_minutes_per_day: float = 0.0  # default for everyone; 0 = no limit (per-user limits are set in /admin)
    quota_minutes_per_month: float = 0.0
    quota_tokens_per_day: int = 0
    quota_tokens_per_month: int = 0
    quota_exempt_admins: bool = False
    quota_warning_s: float = 60.0  # a call about to reach a limit is warned this long before it is ended

    # camera images in the conversation (web/media/images)
    image_max_side: int = 1024  # longest side, in pixels, of what is forwarded to the model
    image_max_jpeg_bytes: int = 160_000  # JPEG budget: its base64 item fits a 256 KiB data channel message
    image_max_input_bytes: int = 8 * 1024 * 1024  # a photo as received (base64 decoded)
    image_max_pixels: int = 50_000_000  # declared width × height, checked before decoding
    image_min_interval_s: float = 1.0  # per call: at most one image in this many seconds

    # OpenAI-compatible API policy (issue 11)
    realtime_voice_locked: bool = False  # clients may not change REALTIME_VOICE
    cors_allowed_origins: tuple[str, ...] = ()  # other sites' origins that may call /v1/realtime… with bearer keys

    @property
    def proxy_hops(self) -> int:
        if self.forwarded_proxy_hops >= 0:
            return self.forwarded_proxy_hops
        return 1 if "*" in self.forwarded_allow_ips else 0

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'app.db'}"

    @property
    def voice_mode(self) -> str:
        """The upstream the voice path uses: azure, openai or echo (resolves `auto`)."""
        if self.realtime_upstream != "auto":
            return self.realtime_upstream
        if self.azure_openai_realtime_endpoint and self.azure_openai_realtime_api_key:
            return "azure"
        if self.openai_api_key:
            return "openai"
        return "echo"


def _parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _parse_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip().removeprefix("export ").strip()] = value
    return values


def _coerce(name: str, raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        return _parse_bool(name, raw)
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError as exc:
            raise SettingsError(f"{name} must be a whole number, got {raw!r}") from exc
    if isinstance(default, float):
        try:
            return float(raw)
        except ValueError as exc:
            raise SettingsError(f"{name} must be a number, got {raw!r}") from exc
    if isinstance(default, Path):
        return Path(raw)
    if isinstance(default, tuple):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    return raw


def _dev_secret_key(data_dir: Path) -> str:
    """A development key generated once and kept in the data folder, so sessions survive restarts."""
    path = data_dir / "secret_key"
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key + "\n", encoding="utf-8")
    path.chmod(0o600)
    return key


def load_settings(environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")) -> Settings:
    """Read settings from `environ` (default: the process environment) over values in `env_file`."""
    source: dict[str, str] = _parse_env_file(env_file) if env_file else {}
    source.update(os.environ if environ is None else environ)
    defaults = Settings()
    values: dict[str, Any] = {}
    for spec in fields(Settings):
        raw = source.get(spec.name.upper())
        if raw is not None:
            values[spec.name] = _coerce(spec.name.upper(), raw, getattr(defaults, spec.name))
    if "PORT" not in source and "APP_PORT" in source:
        values["port"] = _coerce("APP_PORT", source["APP_PORT"], 0)
    known = {spec.name.upper() for spec in fields(Settings)}
    values["oidc_provider_env"] = tuple(sorted(
        (key, value) for key, value in source.items() if key.startswith("OIDC_") and key not in known and value))
    settings = Settings(**values)
    return validate(settings)


def validate(settings: Settings) -> Settings:
    if settings.app_env not in {"development", "production", "test"}:
        raise SettingsError(f"APP_ENV must be development, production or test, got {settings.app_env!r}")
    if settings.realtime_upstream not in {"auto", "echo", "azure", "openai"}:
        raise SettingsError(
            f"REALTIME_UPSTREAM must be auto, echo, azure or openai, got {settings.realtime_upstream!r}"
        )
    if settings.is_production:
        key = settings.secret_key
        if len(key) < MIN_SECRET_KEY_LENGTH or key.lower() in _WEAK_SECRETS or len(set(key)) < 10:
            raise SettingsError(
                "APP_ENV=production needs a strong SECRET_KEY (at least 32 random characters). "
                'Generate one with: python -c "import secrets; print(secrets.token_urlsafe(48))"'
            )
        if settings.create_demo_user:
            settings = replace(settings, create_demo_user=False)
    elif not settings.secret_key:
        settings = replace(settings, secret_key=_dev_secret_key(settings.data_dir))
    if settings.voice_mode == "azure" and not settings.azure_openai_realtime_deployment_name:
        raise SettingsError(
            "AZURE_OPENAI_REALTIME_DEPLOYMENT_NAME is required when AZURE_OPENAI_REALTIME_ENDPOINT is set"
        )
    from web.auth.oidc.config import parse_providers  # imported here: that module imports this one

    parse_providers(settings)  # a mistyped OIDC_* variable stops start-up with a message saying which
    return settings
