"""docker-compose.yml's optional coturn service: off unless asked for, and wired to the app by the same shared secret
(coturn's use-auth-secret, the scheme tests/test_turn_coturn.py proves against a real coturn)."""

from __future__ import annotations

from tests.support.coturn import coturn_config_lines
from tests.test_deploy_files import compose, env_example


def test_coturn_service_is_optional_and_shares_the_apps_turn_secret() -> None:
    services = compose()["services"]
    turn = services["coturn"]
    assert turn["profiles"] == ["turn"]  # `docker compose up` alone does not start it
    flags = {arg.split("=", 1)[0]: arg.partition("=")[2] for arg in turn["command"]}
    assert "--use-auth-secret" in flags
    assert flags["--static-auth-secret"].startswith("${RTC_TURN_SECRET")  # the very variable the app reads
    assert services["smart-glasses-app"]["env_file"] == ".env"
    env = env_example()
    assert "RTC_TURN_SECRET" in env and env["RTC_TURN_SECRET"] == ""  # never a default secret
    assert {"RTC_TURN_URLS", "RTC_TURN_TTL_S", "RTC_RELAY_ONLY", "TURN_EXTERNAL_IP"} <= env.keys()
    # the options the tests' coturn runs with (auth scheme, TLS listener, relay range) are the ones compose sets
    tested = {line.split("=", 1)[0] for line in coturn_config_lines()}
    for option in ("use-auth-secret", "static-auth-secret", "realm", "tls-listening-port", "min-port", "max-port",
                   "fingerprint", "no-cli", "no-multicast-peers", "cert", "pkey", "listening-port"):
        assert option in tested and f"--{option}" in flags, option
    assert int(flags["--min-port"]) < int(flags["--max-port"])
