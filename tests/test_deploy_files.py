"""Deployment files, checked by reading them (no Docker engine on the development or CI machines) and, where it can be
done locally, by running what they say: the Procfile command serves /health, and the image's health check passes."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support import free_port
from web.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
_ASSIGNMENT = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$")
# Settings fields that load_settings fills itself rather than from a variable of the same name.
_DERIVED_FIELDS = {"OIDC_PROVIDER_ENV"}
_SECRET_NAME = re.compile(r"(SECRET|_KEY|PASSWORD|TOKEN)$")


def procfile_command() -> str:
    processes = dict(
        line.split(":", 1) for line in (ROOT / "Procfile").read_text(encoding="utf-8").splitlines() if line.strip()
    )
    assert set(processes) == {"web"}, processes
    return processes["web"].strip()


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction, with continuation lines joined and comments dropped."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    result = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, args = line.strip().partition(" ")
            result.append((keyword.upper(), args.strip()))
    return result


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def healthcheck_argv() -> list[str]:
    [args] = [args for keyword, args in final_stage() if keyword == "HEALTHCHECK"]
    options, _, command = args.partition("CMD ")
    assert "--interval" in options and "--timeout" in options
    argv = json.loads(command)
    assert isinstance(argv, list)
    return [str(part) for part in argv]


def env_example() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        if match := _ASSIGNMENT.match(line):
            values[match[1]] = match[2]
    return values


def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


# --- Procfile ------------------------------------------------------------------------------------------------------

def test_procfile_runs_the_gateway_server_with_the_app_factory_on_port() -> None:
    from web.cli import build_parser
    from web.serve import uvicorn_config

    argv = shlex.split(procfile_command())
    assert argv[:4] == ["python", "-m", "web", "serve"]
    args = build_parser().parse_args(argv[3:])
    assert args.host == "0.0.0.0"
    for env, port, trusted in (
        ({}, 3000, "127.0.0.1"),
        ({"PORT": "4321", "FORWARDED_ALLOW_IPS": "10.1.2.3"}, 4321, "10.1.2.3"),
    ):
        settings = load_settings(env, env_file=None)
        config = uvicorn_config(settings, args.host, settings.port, 1)
        assert config.factory is True and config.host == "0.0.0.0" and config.port == port
        assert config.proxy_headers is True
        assert config.forwarded_allow_ips == trusted
        module_name, _, attr = str(config.app).partition(":")
        factory = getattr(importlib.import_module(module_name), attr)
        assert callable(factory)


# --- Dockerfile ----------------------------------------------------------------------------------------------------

def test_dockerfile_is_slim_non_root_and_runs_the_procfile_command() -> None:
    instructions = dockerfile_instructions()
    bases = [args.split()[0] for keyword, args in instructions if keyword == "FROM"]
    assert bases and all(re.fullmatch(r"python:3\.11(\.\d+)?-slim(-bookworm)?", base) for base in bases), bases
    stage = final_stage()
    users = [args for keyword, args in stage if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    keywords = [keyword for keyword, _ in stage]
    assert keywords.index("USER") < keywords.index("CMD")
    env_text = " ".join(args for keyword, args in stage if keyword == "ENV")
    assert "PYTHONUNBUFFERED=1" in env_text
    assert ("EXPOSE", "3000") in stage
    [cmd] = [json.loads(args) for keyword, args in stage if keyword == "CMD"]
    assert cmd[:2] == ["/bin/sh", "-c"] and cmd[2] == "exec " + procfile_command()


def test_dockerfile_bakes_in_no_secrets() -> None:
    for keyword, args in dockerfile_instructions():
        if keyword in {"ENV", "ARG", "LABEL"}:
            names = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", args) or args.split()[:1]
            assert not any(_SECRET_NAME.search(name.upper()) for name in names), (keyword, args)
        if keyword in {"COPY", "ADD"}:
            assert ".env" not in args, args
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert {".env", ".git", ".venv", "data"} <= set(ignored)


def test_healthcheck_probes_health_with_python_only() -> None:
    argv = healthcheck_argv()
    assert argv[:2] == ["python", "-c"] and "/health" in argv[2] and "curl" not in argv[2]
    app = compose()["services"]["smart-glasses-app"]
    assert app["healthcheck"]["test"] == ["CMD", *argv], "compose repeats the image's check; keep them equal"


@pytest.fixture
def procfile_server(tmp_path: Path) -> Iterator[str]:
    """The Procfile command itself (bound to loopback instead of 0.0.0.0), with a public-looking ALLOWED_HOSTS."""
    port = free_port()
    command = procfile_command().replace("--host 0.0.0.0", "--host 127.0.0.1")
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PORT": str(port),
        "APP_ENV": "test",
        "DATA_DIR": str(tmp_path / "data"),
        "ALLOWED_HOSTS": "voice.example.com,localhost",
        "PASSWORD_HASH_TIME_COST": "1",
        "PASSWORD_HASH_MEMORY_KIB": "8192",
        "PASSWORD_HASH_PARALLELISM": "1",
    }
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        # Own process group: the shell forks uvicorn, and signalling only the shell would orphan the server.
        process = subprocess.Popen(
            ["sh", "-c", command], cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, log.read_text(encoding="utf-8")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", headers={"Host": "localhost"}).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text(encoding="utf-8")
            time.sleep(0.05)
        yield str(port)
    finally:
        with contextlib.suppress(ProcessLookupError):  # already gone if the server crashed
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.mark.slow
def test_procfile_command_serves_health_and_the_image_healthcheck_passes(procfile_server: str) -> None:
    response = httpx.get(f"http://127.0.0.1:{procfile_server}/health", headers={"Host": "localhost"})
    assert response.json() == {"status": "ok"}
    argv = healthcheck_argv()
    env = {"PATH": os.environ["PATH"], "PORT": procfile_server, "ALLOWED_HOSTS": "voice.example.com,localhost"}
    run = [sys.executable, *argv[1:]]
    assert subprocess.run(run, env=env, capture_output=True, timeout=10).returncode == 0
    # A bare 127.0.0.1 Host would be refused by the trusted-host check: the probe must send an allowed name.
    assert httpx.get(f"http://127.0.0.1:{procfile_server}/health").status_code == 400
    dead = {**env, "PORT": str(free_port())}
    assert subprocess.run(run, env=dead, capture_output=True, timeout=10).returncode != 0


# --- docker-compose.yml --------------------------------------------------------------------------------------------

def test_compose_runs_the_app_on_3000_with_a_volume_env_file_and_postgres() -> None:
    services = compose()["services"]
    app = services["smart-glasses-app"]
    assert "3000:3000" in app["ports"]
    env_file = app["env_file"]
    assert env_file == ".env" or ".env" in env_file
    assert app["environment"]["APP_ENV"] == "production"
    data_dir = app["environment"]["DATA_DIR"]
    assert any(volume.split(":")[1] == data_dir for volume in app["volumes"]), app["volumes"]
    assert app["volumes"][0].split(":")[0] in compose()["volumes"]
    assert "postgres" in app["depends_on"]
    postgres = services["postgres"]
    assert postgres["image"].startswith("postgres:15")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])


def test_compose_publishes_the_same_udp_range_the_kernel_hands_out() -> None:
    app = compose()["services"]["smart-glasses-app"]
    low, high = app["sysctls"]["net.ipv4.ip_local_port_range"].split()
    assert f"{low}-{high}:{low}-{high}/udp" in app["ports"]


# --- .env.example --------------------------------------------------------------------------------------------------

def test_env_example_lists_every_setting_with_a_comment() -> None:
    listed = env_example()
    expected = {spec.name.upper() for spec in dataclasses.fields(Settings)} - _DERIVED_FIELDS
    assert expected - set(listed) == set(), "add these to .env.example"
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        if _ASSIGNMENT.match(line):
            above = next(prev for prev in reversed(lines[:index]) if not _ASSIGNMENT.match(prev))
            assert above.startswith("#"), f"no comment above {line!r}"
    # the note that the predecessor's "api-version" 2025-08-28 is a model version
    assert "2025-08-28" in (ROOT / ".env.example").read_text(encoding="utf-8")


def test_env_example_holds_the_defaults_and_no_secrets(tmp_path: Path) -> None:
    listed = env_example()
    for name, value in listed.items():
        if _SECRET_NAME.search(name) and name != "DEMO_USER_PASSWORD":
            assert value == "", f"{name} must be empty in .env.example"
    loaded = load_settings(environ={"DATA_DIR": str(tmp_path)}, env_file=ROOT / ".env.example")
    assert loaded == Settings(data_dir=tmp_path, secret_key=loaded.secret_key)


# --- scripts, README, vendored htmx --------------------------------------------------------------------------------

def test_ci_runs_command_two_and_the_scripts_parse() -> None:
    assert "bash scripts/test.sh" in (ROOT / ".ci/run").read_text(encoding="utf-8")
    for script in (".ci/run", "scripts/test.sh", "scripts/run.sh", "scripts/bootstrap.sh"):
        subprocess.run(["bash", "-n", str(ROOT / script)], check=True)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = readme.split("```")[1]
    assert "bash scripts/run.sh" in first_block and "bash scripts/test.sh" in first_block


def test_htmx_is_vendored_with_its_version_in_the_name_and_no_cdn_is_used() -> None:
    [htmx] = sorted((ROOT / "web/static").glob("htmx-*.min.js"))
    version = re.fullmatch(r"htmx-(2\.\d+\.\d+)\.min\.js", htmx.name)
    assert version, htmx.name
    assert f'version:"{version[1]}"' in htmx.read_text(encoding="utf-8")
    cdn = re.compile(r"(unpkg\.com|jsdelivr|cdnjs|googleapis|<script[^>]+src=[\"']https?:)", re.I)
    for path in [*(ROOT / "web/templates").rglob("*.html"), ROOT / "README.md"]:
        assert not cdn.search(path.read_text(encoding="utf-8")), path
