"""Provider configuration from the environment: four variables for Entra ID, clear errors for mistakes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.live_server import child_environment
from web.auth.oidc.config import parse_providers
from web.settings import SettingsError, load_settings

ENTRA = {
    "OIDC_PROVIDERS": "entra",
    "OIDC_ENTRA_ISSUER": "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
    "OIDC_ENTRA_CLIENT_ID": "00000000-1111-2222-3333-444444444444",
    "OIDC_ENTRA_CLIENT_SECRET": "s3cr3t~value",
}


def test_four_variables_configure_entra_id(tmp_path: Path) -> None:
    settings = load_settings(environ={"DATA_DIR": str(tmp_path), **ENTRA}, env_file=None)
    (entra,) = parse_providers(settings)
    assert entra.name == "entra" and entra.display_name == "Microsoft Entra ID"
    assert entra.issuer == ENTRA["OIDC_ENTRA_ISSUER"] and entra.client_id == ENTRA["OIDC_ENTRA_CLIENT_ID"]
    assert entra.discovery_url == ENTRA["OIDC_ENTRA_ISSUER"] + "/.well-known/openid-configuration"
    assert entra.allowed_domains == () and entra.admin_claim is None
    assert "s3cr3t" not in repr(settings) and "s3cr3t" not in repr(entra)


def test_no_providers_by_default(tmp_path: Path) -> None:
    assert parse_providers(load_settings(environ={"DATA_DIR": str(tmp_path)}, env_file=None)) == ()


def test_provider_variables_may_come_from_the_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("\n".join(f"{k}={v}" for k, v in ENTRA.items()) + "\nOIDC_ENTRA_ALLOWED_DOMAINS=contoso.com\n")
    settings = load_settings(environ={"DATA_DIR": str(tmp_path), "OIDC_ENTRA_DISPLAY_NAME": "Contoso"},
                             env_file=env_file)
    (entra,) = parse_providers(settings)
    assert entra.display_name == "Contoso" and entra.allowed_domains == ("contoso.com",)


def test_optional_variables(tmp_path: Path) -> None:
    settings = load_settings(environ={
        "DATA_DIR": str(tmp_path), **ENTRA, "OIDC_PROVIDERS": "Entra, google",
        "OIDC_ENTRA_ADMIN_CLAIM": "roles = Voice.Admin", "OIDC_ENTRA_ALLOWED_DOMAINS": "@Contoso.com,fabrikam.com",
        "OIDC_GOOGLE_ISSUER": "https://accounts.google.com", "OIDC_GOOGLE_CLIENT_ID": "g",
        "OIDC_GOOGLE_CLIENT_SECRET": "h",
    }, env_file=None)
    entra, google = parse_providers(settings)
    assert entra.admin_claim == ("roles", "Voice.Admin")
    assert entra.allowed_domains == ("contoso.com", "fabrikam.com")
    assert google.name == "google" and google.display_name == "Google"


@pytest.mark.parametrize(("change", "message"), [
    ({"OIDC_ENTRA_CLIENT_SECRET": ""}, "OIDC_ENTRA_CLIENT_SECRET"),
    ({"OIDC_ENTRA_CLIENTID": "typo"}, "OIDC_ENTRA_CLIENTID"),
    ({"OIDC_ENTRA_ISSUER": "https://login.microsoftonline.com/common/v2.0"}, "tenant"),
    ({"OIDC_ENTRA_ISSUER": "login.microsoftonline.com/x/v2.0"}, "issuer URL"),
    ({"OIDC_ENTRA_ISSUER": "https://idp.example/?x=1"}, "issuer URL"),
    ({"OIDC_ENTRA_ADMIN_CLAIM": "roles"}, "claim=value"),
    ({"OIDC_PROVIDERS": "entra,entra"}, "twice"),
    ({"OIDC_PROVIDERS": "entra,bad-name"}, "not a valid name"),
    ({"OIDC_PROVIDERS": "entra,okta"}, "OIDC_OKTA_ISSUER"),
])
def test_mistakes_stop_start_up_with_a_message_naming_the_variable(tmp_path: Path, change: dict[str, str],
                                                                   message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(environ={"DATA_DIR": str(tmp_path), **ENTRA, **change}, env_file=None)


def test_production_needs_https_and_a_public_origin(tmp_path: Path) -> None:
    secret = "k" * 10 + "abcdefghijklmnopqrstuvwxyz0123"
    prod = {"DATA_DIR": str(tmp_path), "APP_ENV": "production", "SECRET_KEY": secret}
    with pytest.raises(SettingsError, match="PUBLIC_ORIGIN"):
        load_settings(environ={**prod, **ENTRA}, env_file=None)
    with pytest.raises(SettingsError, match="https"):
        load_settings(environ={**prod, **ENTRA, "PUBLIC_ORIGIN": "https://voice.example",
                               "OIDC_ENTRA_ISSUER": "http://idp.example"}, env_file=None)
    ok = load_settings(environ={**prod, **ENTRA, "PUBLIC_ORIGIN": "https://voice.example"}, env_file=None)
    assert len(parse_providers(ok)) == 1


@pytest.mark.slow
def test_serve_exits_with_the_message_on_a_bad_provider_setting(tmp_path: Path) -> None:
    env = child_environment(tmp_path, {**ENTRA, "OIDC_ENTRA_CLIENT_SECRET": ""})
    result = subprocess.run([sys.executable, "-m", "web", "serve", "--port", "0"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "OIDC_ENTRA_CLIENT_SECRET" in result.stderr
