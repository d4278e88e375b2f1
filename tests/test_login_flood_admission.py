"""A flood of wrong-password sign-ins from changing addresses fills the hash queue; a real user still gets in (4 of 4,
each within a bounded time), both from a browser that signed in before and from one that never did, the refusals are
cheap and counted by the throttle, and one address or network cannot hold more than its share of the queue."""

from __future__ import annotations

import asyncio

import pytest

from bench.login_flood import SERVER_ENV, flood
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


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_a_first_time_user_signs_in_during_a_flood_of_40(live_server_factory: LiveServerFactory) -> None:  # noqa: F811
    server = live_server_factory(SERVER_ENV)
    result = await flood(server.base_url, attackers=40, seconds=10.0, tries=4, case="first-time")
    assert result["real_user"]["statuses"] == [303] * 4, result
    assert max(result["real_user"]["seconds"]) < 8.0, result  # bounded: well inside the 10 s wait deadline
    busy = result["attack"]["by_status"].get("503", 0) + result["attack"]["by_status"].get("429", 0)
    assert busy > 0, result  # the flood did fill the queue


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_a_real_user_signs_in_during_a_flood_of_40(live_server_factory: LiveServerFactory) -> None:  # noqa: F811
    server = live_server_factory(SERVER_ENV)
    result = await flood(server.base_url, attackers=40, seconds=8.0, tries=4)
    assert result["real_user"]["statuses"] == [303] * 4, result
    busy = result["attack"]["by_status"].get("503", 0) + result["attack"]["by_status"].get("429", 0)
    assert busy > 0, result  # the flood did fill the queue
    metrics = server.log_text()
    assert "login refused before hashing" in metrics
