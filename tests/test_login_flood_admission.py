"""A flood of wrong-password sign-ins from changing addresses fills the hash queue; a real user still gets in (4 of 4,
each within a bounded time), both from a browser that signed in before and from one that never did, the refusals are
cheap and counted by the throttle, and one address or network cannot hold more than its share of the queue."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from bench.login_flood import SERVER_ENV, flood, seed_accounts
from tests.support.live_server import LiveServerFactory, live_server_factory  # noqa: F401  (fixture)
from web.accounts.admission import AdmissionRefused, LoginAdmission
from web.accounts.passwords import HasherBusy, PasswordService


def test_one_address_or_account_holds_only_its_share() -> None:
    admission = LoginAdmission(per_ip=2, per_account=3)
    with admission.enter("a@x", "1.1.1.1"), admission.enter("a@x", "1.1.1.1"):
        with pytest.raises(AdmissionRefused):
            with admission.enter("b@x", "1.1.1.1"):
                pass
        with admission.enter("a@x", "2.2.2.2"):
            with pytest.raises(AdmissionRefused):
                with admission.enter("a@x", "3.3.3.3"):
                    pass
    with admission.enter("a@x", "1.1.1.1"):  # places are given back
        pass


async def test_the_priority_lane_is_served_before_the_flood() -> None:
    hasher = PasswordService(time_cost=1, memory_kib=8192, parallelism=1, concurrency=1, max_waiting=3,
                             max_priority_waiting=1)
    target = await hasher.hash("password-1")
    order: list[str] = []

    async def verify(name: str, priority: bool) -> None:
        await hasher.verify(target, "wrong", priority=priority)
        order.append(name)

    try:
        tasks = [asyncio.create_task(verify(f"flood{i}", False)) for i in range(4)]
        await asyncio.sleep(0)
        with pytest.raises(HasherBusy):  # the normal lane is full: refused at once
            await hasher.verify(target, "wrong")
        tasks.append(asyncio.create_task(verify("user", True)))
        await asyncio.gather(*tasks)
        assert order.index("user") <= 1, order  # after at most the hash already running
    finally:
        hasher.close()


async def test_a_first_time_caller_from_another_network_takes_a_flooding_networks_place() -> None:
    hasher = PasswordService(time_cost=1, memory_kib=8192, parallelism=1, concurrency=1, max_waiting=3)
    target = await hasher.hash("password-1")
    order: list[str] = []
    flood_net = ("198.18.0.0/16", "198.18.3.0/24")

    async def verify(name: str, path: tuple[str, ...]) -> None:
        try:
            await hasher.verify(target, "wrong", path=(*path, name))
            order.append(name)
        except HasherBusy:
            order.append(name + " busy")

    try:
        tasks = [asyncio.create_task(verify(f"flood{i}", flood_net)) for i in range(4)]  # one hashing, 3 waiting
        await asyncio.sleep(0)
        with pytest.raises(HasherBusy):  # the flooding network only competes with itself
            hasher.check_capacity(path=(*flood_net, "flood9"))
        hasher.check_capacity(path=("203.0.0.0/16", "203.0.113.0/24", "user"))
        tasks.append(asyncio.create_task(verify("user", ("203.0.0.0/16", "203.0.113.0/24"))))
        await asyncio.gather(*tasks)
        assert "flood3 busy" in order, order  # the newest waiter of the flooding network gave up its place
        served = [name for name in order if not name.endswith("busy")]
        assert served.index("user") <= 2, order  # after the hash running and at most one waiting flood request
    finally:
        hasher.close()


async def test_nobody_waits_beyond_the_deadline() -> None:
    hasher = PasswordService(time_cost=4, memory_kib=65536, parallelism=1, concurrency=1, max_wait_s=0.05)
    target = await hasher.hash("password-1")
    try:
        running = asyncio.create_task(hasher.verify(target, "wrong"))
        await asyncio.sleep(0)
        with pytest.raises(HasherBusy):
            await hasher.verify(target, "wrong")
        assert hasher.waiting == 0
        assert not await running
    finally:
        hasher.close()


def _refused(result: dict[str, Any]) -> int:
    return int(result["attack"]["by_status"].get("503", 0) + result["attack"]["by_status"].get("429", 0))


async def test_a_name_without_an_account_takes_no_place_and_answers_like_a_check() -> None:
    hasher = PasswordService(time_cost=1, memory_kib=8192, parallelism=1, concurrency=1, max_waiting=2)
    target = await hasher.hash("password-1")
    try:
        started = asyncio.get_running_loop().time()
        results = await asyncio.gather(*(hasher.verify(None, "guess", path=(f"n{i}",)) for i in range(20)))
        elapsed = asyncio.get_running_loop().time() - started
        assert results == [False] * 20
        # 20 real checks one at a time would take 20 hashes; these ran side by side, each as long as about one
        assert elapsed < 10 * max(hasher._recent), (elapsed, list(hasher._recent))
        running = [asyncio.create_task(hasher.verify(target, "wrong", path=(f"r{i}",))) for i in range(3)]
        await asyncio.sleep(0)
        with pytest.raises(HasherBusy):  # refused exactly when a real check from the same place would be
            await hasher.verify(None, "guess", path=("r9",))
        assert await asyncio.gather(*running) == [False] * 3
    finally:
        hasher.close()


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_a_first_time_user_signs_in_during_a_flood_of_40(live_server_factory: LiveServerFactory) -> None:  # noqa: F811
    server = live_server_factory(SERVER_ENV)
    result = await flood(server.base_url, attackers=40, seconds=10.0, tries=4, case="first-time",
                         targets=seed_accounts(server.data_dir))
    assert result["real_user"]["statuses"] == [303] * 4, result
    assert max(result["real_user"]["seconds"]) < 8.0, result  # bounded: well inside the 10 s wait deadline
    assert _refused(result) > 0, result  # the flood did fill the queue


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_a_real_user_signs_in_during_a_flood_of_40(live_server_factory: LiveServerFactory) -> None:  # noqa: F811
    server = live_server_factory(SERVER_ENV)
    result = await flood(server.base_url, attackers=40, seconds=8.0, tries=4, targets=seed_accounts(server.data_dir))
    assert result["real_user"]["statuses"] == [303] * 4, result
    assert _refused(result) > 0, result  # the flood did fill the queue
    metrics = server.log_text()
    assert "login refused before hashing" in metrics


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_a_new_browser_on_a_network_the_account_used_gets_in_during_a_spread_flood(
        live_server_factory: LiveServerFactory) -> None:  # noqa: F811
    """Attackers spread over all of IPv4 and aimed at real accounts fill the normal lane with one place per
    network, so a stranger cannot be told apart; a new browser on a network the account signed in from before
    can."""
    server = live_server_factory(SERVER_ENV)
    result = await flood(server.base_url, attackers=40, seconds=10.0, tries=4, case="known-network-spread",
                         targets=seed_accounts(server.data_dir))
    assert result["real_user"]["statuses"] == [303] * 4, result
    assert max(result["real_user"]["seconds"]) < 8.0, result
    assert _refused(result) > 0, result
    assert (await _metrics(server)).get("login_known_network_total", 0) >= 1


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_a_flood_of_made_up_names_costs_no_hash(live_server_factory: LiveServerFactory) -> None:  # noqa: F811
    """Names without an account are answered without hashing, after as long as a real check takes: a spread flood
    of them leaves the queue free for a first-time user, and the attackers get 401 like for a wrong password."""
    server = live_server_factory(SERVER_ENV)
    result = await flood(server.base_url, attackers=40, seconds=8.0, tries=4, case="first-time-spread")
    assert result["real_user"]["statuses"] == [303] * 4, result
    by_status = result["attack"]["by_status"]
    assert by_status.get("401", 0) > 100 and _refused(result) == 0, result


async def _metrics(server: Any) -> dict[str, float]:
    async with httpx.AsyncClient(timeout=10) as client:
        text = (await client.get(server.url("/metrics"))).text
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name.split("{")[0]] = float(value)
    return values
