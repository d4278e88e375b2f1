"""Causality between rows: a row whose cause another row owns defers to it (skipped, naming that row) on every
surface, never pointing at a skipped or passing row; the summary names the first real cause; the upstream's own
error code is read (404 DeploymentNotFound names the deployment setting and the name tried)."""

from __future__ import annotations

from web.diagnostics import causality, rules_call, rules_quality, rules_server
from web.diagnostics.catalog import BY_ID
from web.diagnostics.model import FAIL, PASS, SKIP, CheckResult
from web.diagnostics.present import rows, summary
from web.diagnostics.text import t
from web.diagnostics.values import Values
from web.i18n import translate
from web.media.realtime.errors import error_for_status

AZURE = {"mode": "azure", "protocol": "ga", "configured": True, "warnings": []}


def failed_upstream() -> CheckResult:
    return rules_server.upstream(AZURE, {"ok": False, "code": "key_rejected", "operator_message": "key"}, False)


def test_call_rows_defer_to_the_failed_upstream_row_and_say_so_in_both_languages() -> None:
    chain = [failed_upstream(),
             rules_call.signalling(Values({"status": 502, "error_code": "upstream_key_rejected"})),
             rules_call.media_path(Values({"state": "skipped"})),
             rules_call.echo(Values({"mode": "azure", "heard": False})),
             rules_quality.rtt([]),
             rules_quality.server_view(None)]
    deferred = causality.defer_all(chain)
    assert [r.status for r in deferred] == [FAIL, SKIP, SKIP, SKIP, SKIP, SKIP]
    shown_zh, shown_en = rows(deferred, "zh-CN"), rows(deferred, "en")
    assert shown_zh[1].value == f"已跳过：「{translate(BY_ID['upstream'].title, 'zh-CN')}」一项失败"
    assert shown_en[2].value == "skipped: the 「Voice service (server ↔ AI)」 row failed"
    assert all(not r.fixes for r in shown_en[1:])  # nothing to do there: the failed row says what to do
    # the summary names the first real cause, with its fix
    text = summary(deferred, "en")
    assert "First cause: 「Voice service (server ↔ AI)」" in text and "key" in text


def test_a_row_that_passed_keeps_its_verdict_and_one_that_owns_its_cause_is_not_deferred() -> None:
    ok_upstream = CheckResult("upstream", PASS, t("fine"))
    echo = rules_call.echo(Values({"mode": "azure", "heard": False}))
    assert causality.defer(echo, {"upstream": ok_upstream}).status == FAIL
    heard = rules_call.echo(Values({"mode": "echo", "heard": True, "delay_ms": 300}))
    assert causality.defer(heard, {"upstream": failed_upstream()}).status == PASS


def test_session_defers_only_to_a_readiness_row_that_names_the_database() -> None:
    session = rules_server.session(False, None, "", None)
    db_down = rules_server.readiness(Values({"status": 503, "checks": {"database": {"ok": False}}}))
    loop_down = rules_server.readiness(Values({"status": 503, "checks": {"event_loop": {"ok": False}}}))
    assert causality.defer(session, {"readiness": db_down}).data["deferred_to"] == "readiness"
    assert causality.defer(session, {"readiness": loop_down}).status == FAIL


def test_an_unknown_deployment_names_the_setting_and_the_name_tried() -> None:
    body = '{"error": {"code": "DeploymentNotFound", "message": "The API deployment does not exist."}}'
    error = error_for_status(404, body, tried="gpt-realtim")
    assert error.code == "deployment_not_found"
    message = error.operator_message
    assert "AZURE_OPENAI_REALTIME_DEPLOYMENT_NAME" in message and "'gpt-realtim'" in message
    assert error_for_status(404, '{"error": {"code": "404", "message": "Resource not found"}}').code == "not_found"


def test_a_failed_handshake_keeps_the_api_version_advice_and_a_stall_is_named() -> None:
    preview = {**AZURE, "protocol": "beta", "warnings": ["AZURE_OPENAI_REALTIME_API_VERSION=2025-04-01-preview …"]}
    refused = rules_server.upstream(preview, {"ok": False, "code": "protocol", "operator_message": "beta shape"}, False)
    assert refused.status == FAIL and any("AZURE_OPENAI_REALTIME_API_VERSION" in f.msgid for f in refused.fixes)
    stalled = rules_server.upstream(AZURE, {"ok": False, "code": "stalled", "operator_message": "no answer"}, False)
    assert rows([stalled], "en")[0].value == "the AI service accepted the connection but does not answer"


def test_echo_names_an_upstream_drop_and_a_suspended_audio_engine() -> None:
    dropped = rows([rules_call.echo(Values({"mode": "azure", "heard": False}), "upstream_closed, close code 1011")],
                   "en")[0]
    assert "dropped the call" in dropped.value and "not your network" in dropped.fixes[0]
    muted = rows([rules_call.echo(Values({"mode": "azure", "heard": False, "context_state": "suspended"}))], "en")[0]
    assert "speaker or headset" in muted.fixes[0] and "server" not in muted.fixes[0]
