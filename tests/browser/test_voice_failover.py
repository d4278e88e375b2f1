"""A call in Chromium outlives the node that held it: `kill -9` of the owner behind HAProxy, and the page reconnects
through the balancer to the other node by itself, keeps its transcript and hears the reply again. The run
(tests.media_fixtures.failover_run) is two nodes, HAProxy and Chromium on the loopback of a private namespace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.media_fixtures.browser_env import namespace_prefix, require
from tests.media_fixtures.speech import make_speech_wav, tools_missing
from tests.support.cluster import fresh_database, socket_url

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.postgres]
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(200)
def test_a_call_reconnects_to_another_node_when_its_node_is_killed(tmp_path: Path) -> None:
    require(not tools_missing(), f"{', '.join(tools_missing())} missing (bash scripts/bootstrap.sh --test)")
    require(subprocess.run(["sh", "-c", "command -v haproxy"], capture_output=True).returncode == 0,
            "haproxy is not installed (scripts/bootstrap.sh --test installs it)")
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url:
        pytest.skip("TEST_DATABASE_URL is not set")
    prefix = namespace_prefix()
    require(prefix is not None, "cannot create a network namespace (unshare --net) for loopback-only WebRTC")
    assert prefix is not None
    wav = make_speech_wav(tmp_path)
    out = tmp_path / "result.json"
    with fresh_database(url) as database:
        socket = socket_url(database)
        require(socket is not None, "the test PostgreSQL has no Unix socket")
        inner = (f"ip link set lo up && exec {sys.executable} -m tests.media_fixtures.failover_run "
                 f"--database '{socket}' --wav '{wav}' --workdir '{tmp_path}' --out '{out}'")
        completed = subprocess.run([*prefix, "sh", "-c", inner], cwd=ROOT, capture_output=True, text=True,
                                   timeout=180)
    logs = "".join(f"\n--- {p.parent.name}\n{p.read_text(errors='replace')[-2500:]}"
                   for p in sorted(tmp_path.glob("node*/server.log")))
    context = f"\n--- runner ---\n{completed.stdout[-2000:]}{completed.stderr[-2000:]}{logs}"
    assert out.exists(), context
    result = json.loads(out.read_text(encoding="utf-8"))
    assert "error" not in result, json.dumps(result, ensure_ascii=False) + context
    detail = json.dumps(result, ensure_ascii=False) + context
    assert result["first_audio_level"] > 0.01, detail
    assert result["calls_made"] == 2 and result["second_owner"] != result["first_owner"], detail
    assert result["second_owner"] in result["nodes"], detail
    assert result["kill_to_connected_ms"] < 10_000, detail
    assert "网络连接出现问题，正在尝试重新连接..." in result["badges_seen"], detail
    assert result["badges_seen"][-1] == "已连接", detail
    assert result["transcript_kept"], detail
    assert result["second_audio_level"] > 0.01, detail  # the new call carries the reply
    assert not result["problems"]["page"] and not result["problems"]["csp"], detail
