"""Upstream resolution: mode, URL, protocol and warnings from Settings; the key never shows in a summary or repr."""

from __future__ import annotations

from typing import Any

import pytest

from web.media.realtime import UpstreamError, describe_upstream, resolve_upstream
from web.media.realtime.factory import upstream_factory
from web.settings import Settings

KEY = "k3y-0123456789abcdef0123456789abcdef"


def azure(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "realtime_upstream": "auto",
        "azure_openai_realtime_endpoint": "https://myres.openai.azure.com",
        "azure_openai_realtime_api_key": KEY,
        "azure_openai_realtime_deployment_name": "gpt-realtime",
    }
    values.update(overrides)
    return Settings(**values)


@pytest.mark.parametrize(
    ("overrides", "url", "protocol"),
    [
        ({}, "wss://myres.openai.azure.com/openai/v1/realtime?model=gpt-realtime", "ga"),
        ({"azure_openai_realtime_endpoint": "https://myres.openai.azure.com/"},
         "wss://myres.openai.azure.com/openai/v1/realtime?model=gpt-realtime", "ga"),
        ({"azure_openai_realtime_endpoint": "https://myres.cognitiveservices.azure.com"},
         "wss://myres.cognitiveservices.azure.com/openai/v1/realtime?model=gpt-realtime", "ga"),
        ({"azure_openai_realtime_endpoint": "myres.openai.azure.com"},
         "wss://myres.openai.azure.com/openai/v1/realtime?model=gpt-realtime", "ga"),
        ({"azure_openai_realtime_endpoint": "wss://myres.openai.azure.com/openai/v1"},
         "wss://myres.openai.azure.com/openai/v1/realtime?model=gpt-realtime", "ga"),
        ({"azure_openai_realtime_endpoint": "https://myres.openai.azure.com/openai/realtime?api-version=x"},
         "wss://myres.openai.azure.com/openai/v1/realtime?model=gpt-realtime", "ga"),
        ({"azure_openai_realtime_endpoint": "http://127.0.0.1:8080"},
         "ws://127.0.0.1:8080/openai/v1/realtime?model=gpt-realtime", "ga"),
        ({"azure_openai_realtime_endpoint": "https://proxy.example/azure"},
         "wss://proxy.example/azure/openai/v1/realtime?model=gpt-realtime", "ga"),
        ({"azure_openai_realtime_api_version": "2025-04-01-preview"},
         "wss://myres.openai.azure.com/openai/realtime?api-version=2025-04-01-preview&deployment=gpt-realtime", "beta"),
        ({"azure_openai_realtime_api_version": "2025-08-28"},
         "wss://myres.openai.azure.com/openai/v1/realtime?model=gpt-realtime", "ga"),
        ({"azure_openai_realtime_deployment_name": "my deploy/1"},
         "wss://myres.openai.azure.com/openai/v1/realtime?model=my%20deploy%2F1", "ga"),
    ],
)
def test_azure_urls(overrides: dict[str, Any], url: str, protocol: str) -> None:
    config = resolve_upstream(azure(**overrides))
    assert (config.mode, config.url, config.protocol, config.configured) == ("azure", url, protocol, True)
    assert config.headers == {"api-key": KEY}
    assert KEY not in config.url


def test_model_version_is_not_an_api_version_and_says_so() -> None:
    summary = describe_upstream(azure(azure_openai_realtime_api_version="2025-08-28"))
    assert summary["protocol"] == "ga"
    assert len(summary["warnings"]) == 1
    assert "2025-08-28" in summary["warnings"][0] and "model version" in summary["warnings"][0]
    assert "api-version" not in summary["url"]


def test_preview_warns_about_deprecation_and_retired_versions() -> None:
    assert any("2026-04-30" in w for w in describe_upstream(
        azure(azure_openai_realtime_api_version="2025-04-01-preview"))["warnings"])
    retired = describe_upstream(azure(azure_openai_realtime_api_version="2024-10-01-preview"))["warnings"]
    assert any("retired" in w for w in retired)


def test_ga_without_api_version_has_no_warning() -> None:
    assert describe_upstream(azure())["warnings"] == []


@pytest.mark.parametrize(
    ("base", "url"),
    [
        ("https://api.openai.com/v1", "wss://api.openai.com/v1/realtime?model=gpt-realtime"),
        ("http://127.0.0.1:9000/v1", "ws://127.0.0.1:9000/v1/realtime?model=gpt-realtime"),
        ("https://api.openai.com/v1/", "wss://api.openai.com/v1/realtime?model=gpt-realtime"),
    ],
)
def test_openai_urls(base: str, url: str) -> None:
    config = resolve_upstream(Settings(openai_api_key=KEY, openai_base_url=base))
    assert (config.mode, config.url, config.protocol) == ("openai", url, "ga")
    assert config.headers == {"Authorization": f"Bearer {KEY}"}
    assert "OpenAI-Beta" not in config.headers


def test_mode_selection() -> None:
    assert resolve_upstream(Settings()).mode == "echo"
    assert resolve_upstream(azure(openai_api_key=KEY)).mode == "azure"
    assert resolve_upstream(Settings(openai_api_key=KEY)).mode == "openai"
    assert resolve_upstream(azure(realtime_upstream="echo")).mode == "echo"


def test_echo_summary_is_configured_and_has_no_url() -> None:
    assert describe_upstream(Settings()) == {
        "mode": "echo", "url": "", "protocol": "ga", "warnings": [], "configured": True, "problem": ""}


def test_missing_settings_are_reported_not_raised_until_a_session_is_made() -> None:
    summary = describe_upstream(Settings(realtime_upstream="azure"))
    assert summary["configured"] is False
    assert "AZURE_OPENAI_REALTIME_ENDPOINT" in summary["problem"]
    summary = describe_upstream(Settings(realtime_upstream="openai"))
    assert summary["configured"] is False and "OPENAI_API_KEY" in summary["problem"]
    with pytest.raises(UpstreamError) as caught:
        upstream_factory(resolve_upstream(Settings(realtime_upstream="openai")))
    assert caught.value.code == "misconfigured"


def test_key_is_not_in_summary_or_repr() -> None:
    for settings in (azure(), azure(azure_openai_realtime_api_version="2025-04-01-preview"),
                     Settings(openai_api_key=KEY)):
        config = resolve_upstream(settings)
        assert KEY not in repr(config)
        assert KEY not in str(describe_upstream(settings))
        assert KEY not in repr(settings)
        assert config.secrets == (KEY,)
