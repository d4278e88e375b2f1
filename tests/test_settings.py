"""Settings: read once, typed, strict, and safe in production."""

from __future__ import annotations

from pathlib import Path

import pytest

from web.settings import SettingsError, load_settings


def test_development_defaults_generate_and_keep_a_secret(tmp_path: Path) -> None:
    first = load_settings({"DATA_DIR": str(tmp_path)}, env_file=None)
    second = load_settings({"DATA_DIR": str(tmp_path)}, env_file=None)
    assert first.port == 3000 and first.voice_mode == "echo" and first.create_demo_user
    assert len(first.secret_key) >= 32 and first.secret_key == second.secret_key
    assert first.effective_database_url == f"sqlite:///{tmp_path / 'app.db'}"


@pytest.mark.parametrize("secret", ["", "short", "change-me", "a" * 40])
def test_production_refuses_weak_secrets(tmp_path: Path, secret: str) -> None:
    with pytest.raises(SettingsError, match="strong SECRET_KEY"):
        load_settings({"APP_ENV": "production", "SECRET_KEY": secret, "DATA_DIR": str(tmp_path)}, env_file=None)


def test_production_never_creates_the_demo_account(tmp_path: Path) -> None:
    settings = load_settings({"APP_ENV": "production", "SECRET_KEY": "k7Hq2-Lm9xPz4Rt8Vw1Ny6Bc3Df5Gh0Js2Ka",
                              "CREATE_DEMO_USER": "true", "DATA_DIR": str(tmp_path)}, env_file=None)
    assert not settings.create_demo_user


def test_strict_booleans_and_numbers(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="LOG_JSON must be true or false"):
        load_settings({"LOG_JSON": "maybe", "DATA_DIR": str(tmp_path)}, env_file=None)
    with pytest.raises(SettingsError, match="PORT must be a whole number"):
        load_settings({"PORT": "eighty", "DATA_DIR": str(tmp_path)}, env_file=None)


def test_env_file_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("# comment\nPORT=4000\nAZURE_OPENAI_REALTIME_DEPLOYMENT_NAME='gpt-realtime'\n"
                        "AZURE_OPENAI_REALTIME_ENDPOINT=https://x.openai.azure.com\n"
                        "AZURE_OPENAI_REALTIME_API_KEY=k\nAZURE_OPENAI_REALTIME_API_VERSION=2025-08-28\n")
    settings = load_settings({"PORT": "5000", "DATA_DIR": str(tmp_path)}, env_file=env_file)
    assert settings.port == 5000
    assert settings.voice_mode == "azure" and settings.azure_openai_realtime_deployment_name == "gpt-realtime"
    assert "azure_openai_realtime_api_key" not in repr(settings)
