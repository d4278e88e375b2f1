"""Input shapes that used to crash a handler (500, and a reset keep-alive connection) get a clear 4xx with a
message: deeply nested JSON, report metadata over its cap, and a non-Latin-1 `next` path in an htmx sign-in."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.support.auth import DEMO_EMAIL, DEMO_PASSWORD, csrf_token, login, page_token
from web.security.json_input import JSONInputError, JSONTooDeep, loads_bounded, nesting_depth

DEEP = "[" * 100_000 + "]" * 100_000  # deeper than the interpreter's recursion limit


def test_bounded_json_refuses_deep_nesting_and_accepts_normal_payloads() -> None:
    assert nesting_depth('{"a": [1, {"b": "[[[[[[["}]}') == 3  # brackets inside strings do not count
    assert loads_bounded('{"a": [1, 2]}') == {"a": [1, 2]}
    with pytest.raises(JSONTooDeep):
        loads_bounded(DEEP)
    with pytest.raises(JSONInputError):
        loads_bounded(b"\xff\xfe")
    with pytest.raises(JSONInputError):
        loads_bounded("{not json")


async def test_deeply_nested_json_in_a_diagnostics_check_is_a_400(client: httpx.AsyncClient) -> None:
    token = await csrf_token(client, "/diagnostics")
    as_json = await client.post("/diagnostics/checks/server_health", content=json.dumps({"values": {"status": 200}}),
                                headers={"X-CSRF-Token": token, "Content-Type": "application/json"})
    assert as_json.status_code == 200  # a normal JSON body still works
    deep_body = '{"values": ' + "[" * 5000 + "]" * 5000 + "}"
    response = await client.post("/diagnostics/checks/server_health", content=deep_body,
                                 headers={"X-CSRF-Token": token, "Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_payload" and "重新运行" in response.json()["error"]["message"]
    form = await client.post("/diagnostics/checks/server_health", headers={"X-CSRF-Token": token},
                             data={"payload": "[" * 20_000 + "]" * 20_000})
    assert form.status_code == 400, form.text


async def test_report_metadata_over_its_cap_is_a_413_with_a_message(client: httpx.AsyncClient) -> None:
    token = await csrf_token(client, "/diagnostics")
    report = (await client.post("/diagnostics/reports", headers={"X-CSRF-Token": token})).json()
    big = {f"k{i}": "x" * 300 for i in range(40)}  # clean_json keeps 40 keys of 300 characters: 12 KB each
    payload = json.dumps({"mic": big, "candidate_pair": big, "candidates": big})
    assert len(payload) < 64 * 1024  # under the body limits, over the 32 KB metadata cap
    response = await client.post(f"/diagnostics/reports/{report['id']}/finish", headers={"X-CSRF-Token": token},
                                 data={"payload": payload})
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "payload_too_large" and response.json()["error"]["message"]
    small = await client.post(f"/diagnostics/reports/{report['id']}/finish", headers={"X-CSRF-Token": token},
                              data={"payload": json.dumps({"mic": {"sampleRate": 48000}})})
    assert small.status_code == 200  # the report is still usable


async def test_deeply_nested_session_part_of_a_call_is_a_400(client: httpx.AsyncClient) -> None:
    await login(client)
    token = await page_token(client)
    files = {"sdp": (None, "v=0\r\n"), "session": (None, "[" * 5000 + "]" * 5000)}
    response = await client.post("/v1/realtime/calls", files=files, headers={"X-CSRF-Token": token})
    assert response.status_code == 400, response.text
    body = response.json()["error"]
    assert body["code"] == "invalid_request" and "session part" in body["detail"] and body["message"]


@pytest.mark.parametrize("next_path", ["/%E3%80%82evil", "/账户?tab=%E5%AF%86"])
async def test_a_non_latin1_next_path_still_signs_in_over_htmx(client: httpx.AsyncClient, next_path: str) -> None:
    page = await client.get(f"/login?next={next_path}")
    assert page.status_code == 200
    token = await csrf_token(client)
    response = await client.post("/login", headers={"HX-Request": "true"}, data={
        "email": DEMO_EMAIL, "password": DEMO_PASSWORD, "csrf_token": token, "next": "/。evil?q=密"})
    assert response.status_code == 200, response.text
    assert response.headers["HX-Redirect"] == "/%E3%80%82evil?q=%E5%AF%86"  # still a local path, now header-safe
