"""Which rows depend on which: a row whose cause another row already owns defers to it instead of guessing.

The echo round trip cannot work when the AI service row failed, the quality rows mean nothing without a media path,
and so on. When a row this one depends on failed, this row is *skipped*, naming the row that failed, so the page,
the report and the CLI send the user to the one link that is broken and never to a skipped or passing row.
Only a row that did not pass defers: a row that passed anyway keeps its verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from web.diagnostics.model import FAIL, PASS, SKIP, CheckResult
from web.diagnostics.text import t
from web.i18n import N_

DEFERRED_KEY = "deferred_to"
DEFERRED = N_("skipped: the 「{row}」 row failed")

Owner = Callable[[CheckResult], bool]


def _failed(result: CheckResult) -> bool:
    return result.status == FAIL


def database_down(result: CheckResult) -> bool:
    """A readiness row that failed because the server's database is down."""
    return result.status == FAIL and "database" in (result.data.get("down") or ())


def _server_busy(result: CheckResult) -> bool:
    """A call refused because the server is at its call limit: a WebSocket call is refused the same way."""
    return result.status == FAIL and result.data.get("error_code") == "server_busy"


_CALL_PATH = ("browser", "upstream", "signalling", "media_path")
# row -> the rows it depends on, most basic first; each with the test that says "that row owns the failure"
DEPENDS_ON: dict[str, tuple[tuple[str, Owner], ...]] = {
    "session": (("readiness", database_down),),
    "audio_devices": (("mic_permission", _failed),),
    "mic_level": (("mic_permission", _failed), ("audio_devices", _failed)),
    "ice": (("browser", _failed),),
    # without microphone permission the browser hides its addresses (mDNS names), and a voice call needs the mic
    "signalling": (("browser", _failed), ("mic_permission", _failed), ("upstream", _failed)),
    "media_path": (("browser", _failed), ("signalling", _failed)),
    "echo": tuple((row, _failed) for row in _CALL_PATH),
    **{row: tuple((dep, _failed) for dep in ("browser", "signalling", "media_path"))
       for row in ("rtt", "jitter", "packet_loss", "bitrate", "mos")},
    "server_view": tuple((row, _failed) for row in (*_CALL_PATH, "echo")),
    "websocket": (("browser", _failed), ("upstream", _failed), ("signalling", _server_busy)),
}


def owner(check_id: str, earlier: Mapping[str, CheckResult]) -> str | None:
    """The failed row that owns this row's cause, or None."""
    for dep, owns in DEPENDS_ON.get(check_id, ()):
        found = earlier.get(dep)
        if found is None:
            continue
        upstream_owner = found.data.get(DEFERRED_KEY)
        if isinstance(upstream_owner, str):  # that row deferred too: name the row that really failed
            return upstream_owner
        if owns(found):
            return dep
    return None


def deferred(check_id: str, dep: str, own_status: str = SKIP) -> CheckResult:
    """A row that cannot run because `dep` owns the cause (e.g. the database is down, so nobody can be signed in)."""
    return CheckResult(check_id, SKIP, t(DEFERRED, row=dep), (), {DEFERRED_KEY: dep, "own_status": own_status})


def defer(result: CheckResult, earlier: Mapping[str, CheckResult]) -> CheckResult:
    """`result`, or a skip naming the failed row it depends on."""
    if result.status == PASS:
        return result
    dep = owner(result.check_id, earlier)
    if dep is None:
        return result
    data = {**result.data, DEFERRED_KEY: dep, "own_status": result.status}
    return CheckResult(result.check_id, SKIP, t(DEFERRED, row=dep), (), data)


def defer_all(results: Iterable[CheckResult]) -> list[CheckResult]:
    """Apply `defer` in order, each row seeing the (already deferred) rows before it."""
    seen: dict[str, CheckResult] = {}
    out = []
    for result in results:
        result = defer(result, seen)
        seen[result.check_id] = result
        out.append(result)
    return out


def first_cause(results: Iterable[CheckResult]) -> CheckResult | None:
    """The first failed row that owns its failure (the first warning if none failed)."""
    listed = list(results)
    return (next((r for r in listed if r.status == FAIL), None)
            or next((r for r in listed if r.status == "warn"), None))
